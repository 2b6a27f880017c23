"""A CT slice placed in the 3D view: its four corners in LPS mm and a small texture. Qt-free.

The plane is the slice a slice view shows now, at the exact position and tilt of the
voxels (the volume's direction, spacing and origin, not the viewer's nearest-axis
reorientation), so the bones' surfaces pass through it where the slice cuts them. The
texture is the viewer's grey image (same window/level) sampled to at most
``MAX_TEXTURE_PX`` texels a side: a 512 x 512 slice costs 1 MB per upload, a
software-OpenGL laptop redraws it without stalling the slice scrolling.

pyqtgraph's GLImageItem draws texel (i, j) over the unit square [i, i+1] x [j, j+1] of
its own plane; :class:`PlaneQuad` gives the affine map from that plane to LPS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.state.display_geometry import DisplayGeometry, ViewSpec
from kneeseg_app.ui.state.planning_state import display_to_lps
from kneeseg_app.ui.state.window_level import WindowLevel

MAX_TEXTURE_PX = 512
PLANE_ALPHA = 215
"""Opacity of the plane's tissue (of 255); air, below the window, is fully clear."""


@dataclass(frozen=True)
class PlaneQuad:
    """One slice as a textured quad: LPS(x, y) = corner + x * u + y * v for texture plane (x, y)."""

    view: str
    slice_index: int
    corner: np.ndarray
    """LPS of the outer corner of texel (0, 0)."""
    u: np.ndarray
    """LPS step of one texel along texture axis 0 (the view's columns)."""
    v: np.ndarray
    """LPS step of one texel along texture axis 1 (the view's rows)."""
    texture: np.ndarray
    """(columns, rows, 4) uint8 RGBA, as GLImageItem takes it."""

    def corners(self) -> np.ndarray:
        """(4, 3) LPS corners, going round the quad."""
        nx, ny = self.texture.shape[:2]
        return np.array(
            [self.corner, self.corner + nx * self.u, self.corner + nx * self.u + ny * self.v, self.corner + ny * self.v]
        )

    def texel_centre(self, i: int, j: int) -> np.ndarray:
        return self.corner + (i + 0.5) * self.u + (j + 0.5) * self.v

    def matrix(self, offset: np.ndarray) -> np.ndarray:
        """4x4 (row-major) from the texture plane to the view's world (LPS - offset)."""
        normal = np.cross(self.u, self.v)
        normal = normal / max(float(np.linalg.norm(normal)), 1e-12)
        out = np.eye(4)
        out[:3, 0], out[:3, 1], out[:3, 2] = self.u, self.v, normal
        out[:3, 3] = self.corner - np.asarray(offset, dtype=np.float64)
        return out


def plane_corners(volume: Volume, geometry: DisplayGeometry, view: ViewSpec, slice_index: int) -> np.ndarray:
    """(4, 3) LPS corners of the slice ``view`` shows at ``slice_index``: the voxels' outer edges.

    Order: (first column, first row), (last column, first row), (last, last), (first, last).
    """
    n_cols, n_rows = geometry.shape[view.col_axis], geometry.shape[view.row_axis]
    out = []
    for col, row in ((-0.5, -0.5), (n_cols - 0.5, -0.5), (n_cols - 0.5, n_rows - 0.5), (-0.5, n_rows - 0.5)):
        display = np.zeros(3)
        display[view.slice_axis] = slice_index
        display[view.col_axis], display[view.row_axis] = col, row
        out.append(display_to_lps(volume, geometry, display))
    return np.array(out)


def sample_positions(n: int, max_px: int = MAX_TEXTURE_PX) -> np.ndarray:
    """Which of ``n`` pixels each texel shows: the one under its centre (all of them when n <= max_px)."""
    texels = min(n, max_px)
    return np.minimum(((np.arange(texels) + 0.5) * n / texels).astype(int), n - 1)


def grey_rgba(image: np.ndarray, window: WindowLevel) -> np.ndarray:
    """The viewer's grey (window/level) as RGBA uint8: black (below the window) clear, the rest
    slightly see-through, so the bones behind the plane and outside the body stay in sight."""
    span = max(window.high - window.low, 1e-6)
    grey = (np.clip((image.astype(np.float32) - window.low) / span, 0.0, 1.0) * 255.0).astype(np.uint8)
    rgba = np.empty((*grey.shape, 4), np.uint8)
    rgba[..., :3] = grey[..., None]
    rgba[..., 3] = np.where(grey > 0, PLANE_ALPHA, 0)
    return rgba


def plane_quad(
    volume: Volume,
    geometry: DisplayGeometry,
    view: ViewSpec,
    slice_index: int,
    image: np.ndarray,
    window: WindowLevel,
    max_px: int = MAX_TEXTURE_PX,
) -> PlaneQuad:
    """The textured quad of ``image`` (rows, columns: what the slice view shows at ``slice_index``)."""
    rows, cols = sample_positions(image.shape[0], max_px), sample_positions(image.shape[1], max_px)
    texture = np.ascontiguousarray(grey_rgba(image[np.ix_(rows, cols)], window).transpose(1, 0, 2))
    corners = plane_corners(volume, geometry, view, slice_index)
    return PlaneQuad(
        view=view.name,
        slice_index=int(slice_index),
        corner=corners[0],
        u=(corners[1] - corners[0]) / len(cols),
        v=(corners[3] - corners[0]) / len(rows),
        texture=texture,
    )
