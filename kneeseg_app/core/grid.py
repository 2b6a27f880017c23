"""The one reference-grid check: does a label map lie on a CT's voxels?

A reference segmentation (or a model result) is only comparable with a CT when every
voxel sits at the same patient position. The CLI (``--reference``), the window's
comparison, the batch window, ``kneeseg-train evaluate`` and the DICOM SEG writer all ask
this one question here, with one tolerance, so a file accepted by one is accepted by all.
"""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.errors import LabelMapError
from kneeseg_app.core.volume import Volume

GRID_TOLERANCE_FRACTION = 0.05
"""How far (as a share of the CT's smallest voxel spacing) a voxel corner may move: rounding in
NIfTI/NRRD headers (float32 origins, 6-digit spacings) stays far below it, a one-voxel shift far above."""

DIRECTION_TOLERANCE = 1e-4
"""How far the direction cosines may differ (float32 headers)."""


def grid_tolerance_mm(ct: Volume) -> float:
    """The largest corner displacement (mm) that still counts as the same grid as ``ct``."""
    return GRID_TOLERANCE_FRACTION * float(min(ct.spacing_zyx))


def on_same_grid(labels: Volume, ct: Volume) -> bool:
    """True when ``labels`` has ``ct``'s shape and its voxels lie on ``ct``'s voxels."""
    if labels.shape != ct.shape:
        return False
    corners = np.array([[0, 0, 0], [s - 1 for s in ct.shape]], dtype=np.float64)
    close = np.allclose(labels.index_to_lps(corners), ct.index_to_lps(corners), atol=grid_tolerance_mm(ct))
    return bool(close) and bool(np.allclose(labels.direction, ct.direction, atol=DIRECTION_TOLERANCE))


def require_same_grid(labels: Volume, ct: Volume, what: str = "The label map") -> None:
    """Raise LabelMapError, saying how they differ, unless ``labels`` lies on ``ct``'s voxels."""
    if on_same_grid(labels, ct):
        return
    raise LabelMapError(f"{what} does not lie on the CT's grid: {grid_difference(labels, ct)}.")


def grid_difference(a: Volume, b: Volume) -> str:
    """The first way two grids differ, in words (size, spacing, orientation, position)."""
    if a.shape != b.shape:
        return f"it is {_size(a)} voxels, the CT is {_size(b)}"
    if not np.allclose(a.spacing_zyx, b.spacing_zyx, rtol=1e-3):
        return f"its spacing is {_spacing(a)} mm, the CT's is {_spacing(b)} mm"
    if not np.allclose(a.direction, b.direction, atol=DIRECTION_TOLERANCE):
        return "its axes point in different directions than the CT's (another orientation)"
    offset = float(np.linalg.norm(np.subtract(a.origin_xyz, b.origin_xyz)))
    return f"it is shifted by {offset:.2f} mm from the CT"


def _size(v: Volume) -> str:
    z, y, x = v.shape
    return f"{x}x{y}x{z}"


def _spacing(v: Volume) -> str:
    return "x".join(f"{s:.3f}" for s in v.spacing_xyz)
