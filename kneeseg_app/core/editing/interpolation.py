"""Shape-based interpolation of one label between two slices ("fill between slices").

Each of the two drawn slices becomes a signed distance map in mm (negative inside); the
slices between get the linear blend of the two maps, and inside is where the blend is
negative (Raya & Udupa's shape-based interpolation, as in ITK-SNAP and 3D Slicer). Equal
shapes give that shape on every slice; a small and a large disk give disks growing
steadily in between. The blend can only be negative inside one of the two shapes, so the
work is cropped to the box of their union.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kneeseg_app.core.errors import EditError


def signed_distance_mm(mask: np.ndarray, spacing: tuple[float, float]) -> np.ndarray:
    """Distance (mm) to the shape outside it, minus the distance to the outside inside it.

    Beyond the array counts as outside (padding), so a shape filling the array still has an edge.
    """
    padded = np.pad(mask, 1, constant_values=False)
    outside = ndimage.distance_transform_edt(~padded, sampling=spacing)
    inside = ndimage.distance_transform_edt(padded, sampling=spacing)
    return (outside - inside)[1:-1, 1:-1].astype(np.float32)


def _plane(labels: np.ndarray, axis: int, index: int) -> np.ndarray:
    return np.take(labels, index, axis=axis)


def interpolate_between(
    labels: np.ndarray,
    spacing_zyx: tuple[float, float, float],
    value: int,
    axis: int,
    slices: tuple[int, int],
    replace: bool = False,
) -> tuple[tuple[slice, ...], np.ndarray]:
    """(box, new labels over box) with label ``value`` interpolated between two slices of ``axis``.

    The interpolated shape takes background (and keeps ``value``); the other bone is never
    overwritten. ``replace`` also clears ``value`` outside the shape on the slices between.
    """
    first, last = sorted(int(s) for s in slices)
    if last - first < 2:
        raise EditError("Interpolation needs two slices with at least one slice between them.")
    if not (first >= 0 and last < labels.shape[axis]):
        raise EditError("The slices to interpolate between are outside the image.")
    shape_a = _plane(labels, axis, first) == value
    shape_b = _plane(labels, axis, last) == value
    for index, shape in ((first, shape_a), (last, shape_b)):
        if not shape.any():
            raise EditError(f"Slice {index} holds none of this bone: draw it on both slices first.")
    plane_spacing = tuple(s for a, s in enumerate(spacing_zyx) if a != axis)
    crop = _union_box(shape_a | shape_b, 1)
    sdf_a = signed_distance_mm(shape_a[crop], plane_spacing)  # type: ignore[arg-type]
    sdf_b = signed_distance_mm(shape_b[crop], plane_spacing)  # type: ignore[arg-type]
    box = [slice(None)] * 3
    box[axis] = slice(first + 1, last)
    plane_axes = [a for a in range(3) if a != axis]
    for a, c in zip(plane_axes, crop):
        box[a] = c
    region = labels[tuple(box)]
    result = region.copy()
    for k in range(first + 1, last):
        t = (k - first) / (last - first)
        inside = (1.0 - t) * sdf_a + t * sdf_b < 0
        current = np.take(region, k - first - 1, axis=axis)
        new = current.copy()
        new[inside & (current == 0)] = value
        if replace:
            new[~inside & (current == value)] = 0
        _put_plane(result, axis, k - first - 1, new)
    return tuple(box), result


def _put_plane(volume: np.ndarray, axis: int, index: int, plane: np.ndarray) -> None:
    where = [slice(None)] * 3
    where[axis] = index
    volume[tuple(where)] = plane


def _union_box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Box of a 2D mask grown by ``margin``."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return (
        slice(max(int(rows[0]) - margin, 0), min(int(rows[-1]) + 1 + margin, mask.shape[0])),
        slice(max(int(cols[0]) - margin, 0), min(int(cols[-1]) + 1 + margin, mask.shape[1])),
    )
