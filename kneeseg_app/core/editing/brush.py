"""Where a brush touches: voxels whose centre lies within a radius (mm) of the stroke.

A stroke segment from p0 to p1 (continuous voxel positions, z y x) covers a capsule:
every voxel whose centre is within ``radius_mm`` of the segment, distances taken in
millimetres with the volume's own spacing - so a 5 mm brush is round on the patient
even when slices are 3 mm apart and pixels 0.4 mm. A 2D brush is the same capsule cut
by one slice of the view's axis (a disk for a click); a 3D brush is the full capsule
(a sphere for a click). At least the voxel under the pointer is always covered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Point = tuple[float, float, float]


@dataclass(frozen=True)
class BrushShape:
    """The brush's size and whether it paints one slice (2D) or a ball (3D)."""

    radius_mm: float
    axis: int | None = 0
    """Array axis of the slice painted in (0 = z: axial, 1 = y, 2 = x); None for a 3D sphere."""

    def __post_init__(self) -> None:
        if not self.radius_mm > 0:
            raise ValueError("the brush radius must be positive")
        if self.axis not in (None, 0, 1, 2):
            raise ValueError("the brush axis is 0, 1, 2 or None")


def _box(shape: tuple[int, ...], lo: np.ndarray, hi: np.ndarray) -> tuple[slice, ...] | None:
    start = np.maximum(np.floor(lo).astype(int), 0)
    stop = np.minimum(np.floor(hi).astype(int) + 1, np.asarray(shape))
    if np.any(stop <= start):
        return None
    return tuple(slice(int(a), int(b)) for a, b in zip(start, stop))


def capsule_region(
    shape: tuple[int, int, int],
    spacing_zyx: tuple[float, float, float],
    p0: Point,
    p1: Point,
    brush: BrushShape,
) -> tuple[tuple[slice, ...], np.ndarray] | None:
    """(box, mask over box) of the voxels the segment p0-p1 paints; None when outside the volume."""
    spacing = np.asarray(spacing_zyx, dtype=np.float64)
    a = np.asarray(p0, dtype=np.float64)
    b = np.asarray(p1, dtype=np.float64)
    reach = brush.radius_mm / spacing
    lo, hi = np.minimum(a, b) - reach, np.maximum(a, b) + reach
    if brush.axis is not None:
        plane = int(round(a[brush.axis]))
        a[brush.axis] = b[brush.axis] = plane
        lo[brush.axis] = hi[brush.axis] = plane
    box = _box(shape, lo, hi)
    if box is None:
        return None
    grids = np.meshgrid(*(np.arange(s.start, s.stop, dtype=np.float64) for s in box), indexing="ij", sparse=True)
    mm = [g * s for g, s in zip(grids, spacing)]
    a_mm, d_mm = a * spacing, (b - a) * spacing
    length2 = float(d_mm @ d_mm)
    rel = [m - p for m, p in zip(mm, a_mm)]
    if length2 > 0:
        t = np.clip(sum(r * d for r, d in zip(rel, d_mm)) / length2, 0.0, 1.0)
        rel = [r - t * d for r, d in zip(rel, d_mm)]
    dist2 = sum(r * r for r in rel)
    mask = np.asarray(dist2 <= brush.radius_mm**2 + 1e-9)
    mask = np.broadcast_to(mask, tuple(s.stop - s.start for s in box)).copy()
    _mark_nearest(mask, box, b)
    return box, mask


def _mark_nearest(mask: np.ndarray, box: tuple[slice, ...], point: np.ndarray) -> None:
    """A brush smaller than a voxel still paints the voxel under the pointer."""
    nearest = [int(round(p)) - s.start for p, s in zip(point, box)]
    if all(0 <= n < m for n, m in zip(nearest, mask.shape)):
        mask[tuple(nearest)] = True
