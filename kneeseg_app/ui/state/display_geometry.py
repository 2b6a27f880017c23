"""How a Volume is shown: a radiological reorientation derived from its direction matrix.

Qt-free. The viewer never assumes an axial LPS acquisition: it permutes and flips the
array axes (no copy) so that display axis 0 increases towards the patient's Superior,
axis 1 towards Posterior and axis 2 towards Left ("SPL" order). Each 2D view then shows
a fixed pair of those axes, which gives the radiological convention of PACS viewers:

* axial: patient's right on screen left, anterior up (seen from the feet);
* coronal: patient's right on screen left, superior up (seen from the front);
* sagittal: anterior on screen left, superior up (seen from the patient's left).

Obliquely acquired volumes are shown on their nearest patient axes (as ITK-SNAP does);
positions read out under the cursor always use the exact direction matrix.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.volume import Volume

DISPLAY_AXES = ("S", "P", "L")
"""Patient direction that display axes 0, 1, 2 increase towards."""

_OPPOSITE = {"S": "I", "P": "A", "L": "R", "I": "S", "A": "P", "R": "L"}


@dataclass(frozen=True)
class ViewSpec:
    """One 2D view: which display axis it slices and how rows/columns are drawn."""

    name: str
    slice_axis: int
    row_axis: int
    col_axis: int
    invert_y: bool
    """True: row 0 is drawn at the top of the screen (rows increase downwards)."""

    def edge_letters(self) -> dict[str, str]:
        """Patient direction at each screen edge ('left', 'right', 'top', 'bottom')."""
        col_pos = DISPLAY_AXES[self.col_axis]
        row_pos = DISPLAY_AXES[self.row_axis]
        top = _OPPOSITE[row_pos] if self.invert_y else row_pos
        return {"left": _OPPOSITE[col_pos], "right": col_pos, "top": top, "bottom": _OPPOSITE[top]}


AXIAL = ViewSpec("Axial", slice_axis=0, row_axis=1, col_axis=2, invert_y=True)
CORONAL = ViewSpec("Coronal", slice_axis=1, row_axis=0, col_axis=2, invert_y=False)
SAGITTAL = ViewSpec("Sagittal", slice_axis=2, row_axis=0, col_axis=1, invert_y=False)
VIEWS = (AXIAL, CORONAL, SAGITTAL)


@dataclass(frozen=True)
class DisplayGeometry:
    """Permutation and flips from an array (z, y, x) to the display order (S, P, L)."""

    perm: tuple[int, int, int]
    """Display axis ``d`` shows array axis ``perm[d]``."""
    flip: tuple[bool, bool, bool]
    """Display axis ``d`` runs opposite to its array axis."""
    array_shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    """Voxel size in mm along each display axis."""
    obliquity_deg: float
    """Largest angle between an array axis and its nearest patient axis."""

    @classmethod
    def from_volume(cls, volume: Volume) -> DisplayGeometry:
        # cos[d, a]: component of array axis a's direction along display axis d.
        # Array axis a is ITK axis 2 - a; display axis d is LPS component 2 - d.
        cos = np.asarray(volume.direction)[::-1, ::-1]
        perm = max(itertools.permutations(range(3)), key=lambda p: sum(abs(cos[d, p[d]]) for d in range(3)))
        flip = tuple(bool(cos[d, perm[d]] < 0) for d in range(3))
        worst = min(abs(cos[d, perm[d]]) for d in range(3))
        spacing = tuple(float(volume.spacing_zyx[perm[d]]) for d in range(3))
        return cls(
            perm=tuple(int(p) for p in perm),  # type: ignore[arg-type]
            flip=flip,  # type: ignore[arg-type]
            array_shape=volume.shape,
            spacing=spacing,  # type: ignore[arg-type]
            obliquity_deg=float(np.degrees(np.arccos(min(1.0, worst)))),
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array_shape[a] for a in self.perm)  # type: ignore[return-value]

    def view(self, array: np.ndarray) -> np.ndarray:
        """The array in display order (a numpy view: no copy of the volume)."""
        out = np.transpose(array, self.perm)
        slices = tuple(slice(None, None, -1) if f else slice(None) for f in self.flip)
        return out[slices]

    def to_array_index(self, display_index: tuple[int, int, int]) -> tuple[int, int, int]:
        """Array (z, y, x) index of a display (S, P, L) index."""
        out = [0, 0, 0]
        for d in range(3):
            a = self.perm[d]
            i = int(display_index[d])
            out[a] = self.array_shape[a] - 1 - i if self.flip[d] else i
        return tuple(out)  # type: ignore[return-value]

    def to_display_index(self, array_index: tuple[int, int, int]) -> tuple[int, int, int]:
        """Display (S, P, L) index of an array (z, y, x) index."""
        out = []
        for d in range(3):
            a = self.perm[d]
            i = int(array_index[a])
            out.append(self.array_shape[a] - 1 - i if self.flip[d] else i)
        return tuple(out)  # type: ignore[return-value]

    def clamp(self, display_index: tuple[int, int, int]) -> tuple[int, int, int]:
        return tuple(int(min(max(int(v), 0), n - 1)) for v, n in zip(display_index, self.shape, strict=True))  # type: ignore[return-value]

    def slice_image(self, display_array: np.ndarray, view: ViewSpec, index: int) -> np.ndarray:
        """The 2D image (rows, columns) a view shows at slice ``index``."""
        return np.take(display_array, int(index), axis=view.slice_axis)

    def plane_size_mm(self, view: ViewSpec) -> tuple[float, float]:
        """(width, height) in mm of a view's plane: the physical aspect ratio."""
        shape = self.shape
        return (shape[view.col_axis] * self.spacing[view.col_axis], shape[view.row_axis] * self.spacing[view.row_axis])

    def scene_to_display(
        self, view: ViewSpec, slice_index: int, x_mm: float, y_mm: float, clamp: bool = True
    ) -> tuple[int, int, int]:
        """Display index under a point of a view's plane (mm from the image corner)."""
        index = [0, 0, 0]
        index[view.slice_axis] = int(slice_index)
        index[view.col_axis] = int(np.floor(x_mm / self.spacing[view.col_axis]))
        index[view.row_axis] = int(np.floor(y_mm / self.spacing[view.row_axis]))
        return self.clamp(tuple(index)) if clamp else tuple(index)  # type: ignore[arg-type, return-value]

    def display_to_scene(self, view: ViewSpec, display_index: tuple[int, int, int]) -> tuple[float, float]:
        """Centre (x, y) in mm, within a view's plane, of a display voxel."""
        x = (display_index[view.col_axis] + 0.5) * self.spacing[view.col_axis]
        y = (display_index[view.row_axis] + 0.5) * self.spacing[view.row_axis]
        return x, y

    def contains(self, display_index: tuple[int, int, int]) -> bool:
        return all(0 <= int(v) < n for v, n in zip(display_index, self.shape, strict=True))
