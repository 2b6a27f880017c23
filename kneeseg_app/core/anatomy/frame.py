"""A bone's own coordinate system and the point clouds the landmark rules read.

Landmark rules are written in bone-local coordinates ``(l, p, s)``: lateral, posterior,
superior (proximal), so one rule serves the left and the right knee. A :class:`BoneFrame`
maps LPS millimetres to those coordinates and back.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

POSTERIOR_LPS = np.array([0.0, 1.0, 0.0])


def unit(vector: np.ndarray) -> np.ndarray:
    v = np.asarray(vector, dtype=np.float64)
    return v / max(float(np.linalg.norm(v)), 1e-12)


@dataclass(frozen=True)
class BoneFrame:
    """Origin and three orthonormal axes (lateral, posterior, superior) in LPS mm."""

    origin: np.ndarray
    lateral: np.ndarray
    posterior: np.ndarray
    superior: np.ndarray

    @classmethod
    def from_axes(cls, origin: np.ndarray, superior: np.ndarray, lateral_hint: np.ndarray) -> BoneFrame:
        """Superior is kept; lateral is the hint made perpendicular; posterior points to the patient's back."""
        sup = unit(superior)
        hint = np.asarray(lateral_hint, dtype=np.float64)
        lat = unit(hint - float(hint @ sup) * sup)
        post = unit(np.cross(sup, lat))
        if float(post @ POSTERIOR_LPS) < 0:
            post = -post
        return cls(np.asarray(origin, dtype=np.float64), lat, post, sup)

    @property
    def rotation(self) -> np.ndarray:
        """Rows are the lateral, posterior and superior axes (LPS)."""
        return np.stack([self.lateral, self.posterior, self.superior])

    def local(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - self.origin) @ self.rotation.T

    def world(self, local: np.ndarray) -> np.ndarray:
        return self.origin + np.asarray(local, dtype=np.float64) @ self.rotation

    def with_origin(self, origin: np.ndarray) -> BoneFrame:
        return BoneFrame(np.asarray(origin, dtype=np.float64), self.lateral, self.posterior, self.superior)

    def matrix(self) -> np.ndarray:
        """4x4 map from LPS mm to this frame (homogeneous)."""
        out = np.eye(4)
        out[:3, :3] = self.rotation
        out[:3, 3] = -self.rotation @ self.origin
        return out


@dataclass(frozen=True)
class BoneCloud:
    """A bone as points: its surface, its interior and where the scan ends.

    ``surface``: points on the bone boundary (LPS mm); ``inside``: equally weighted points
    filling the bone; ``scan_normal``/``scan_range``: the slice direction and the positions
    of the first and last slice along it, so rules can tell a bone cut by the scan's end
    from a bone that really ends; ``step_mm``: the coarsest sampling step (slice spacing).
    """

    surface: np.ndarray
    inside: np.ndarray
    scan_normal: np.ndarray
    scan_range: tuple[float, float]
    step_mm: float
    side_planes: tuple[tuple[np.ndarray, float, float, float], ...] = ()
    """The image's other faces: (unit normal, first, last position, pixel size); a bone cut by the field of view touches them."""

    def near_scan_end(self, points: np.ndarray) -> np.ndarray:
        """True for points within one sampling step of the first or last slice, or of the image's sides."""
        pts = np.asarray(points, dtype=np.float64)
        pos = pts @ self.scan_normal
        margin = max(self.step_mm, 1.0)
        near = (pos - self.scan_range[0] < margin) | (self.scan_range[1] - pos < margin)
        for normal, first, last, pixel in self.side_planes:
            side = pts @ normal
            edge = max(2.0 * pixel, 1.0)
            near |= (side - first < edge) | (last - side < edge)
        return near


def mask_points(
    mask: np.ndarray, index_to_world, offset_zyx: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Surface and interior points of a boolean (z, y, x) mask.

    Surface points are the mid-points between each inside voxel and an outside 6-neighbour:
    the boundary of a label map, without the half-voxel inward bias of boundary voxel
    centres. ``index_to_world`` maps (..., 3) (z, y, x) indices to LPS mm.
    """
    offset = np.zeros(3) if offset_zyx is None else np.asarray(offset_zyx, dtype=np.float64)
    padded = np.pad(mask, 1)
    mids = []
    for axis in range(3):
        lo = [slice(None)] * 3
        hi = [slice(None)] * 3
        lo[axis] = slice(0, -1)
        hi[axis] = slice(1, None)
        change = padded[tuple(lo)] != padded[tuple(hi)]
        idx = np.argwhere(change).astype(np.float64)
        # index in the padded array along `axis` is between idx and idx + 1; minus the pad
        idx -= 1.0
        idx[:, axis] += 0.5
        other = [a for a in range(3) if a != axis]
        keep = np.ones(len(idx), bool)
        for a in other:
            keep &= (idx[:, a] >= 0) & (idx[:, a] <= mask.shape[a] - 1)
        mids.append(idx[keep])
    surface_idx = np.concatenate(mids) + offset
    inside_idx = np.argwhere(mask).astype(np.float64) + offset
    return index_to_world(surface_idx), index_to_world(inside_idx)
