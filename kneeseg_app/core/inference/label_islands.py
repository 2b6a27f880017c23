"""Islands of one bone's label inside the other bone: they go to the bone they lie in, not away.

A 2D network sometimes calls part of one bone's section the other bone, away from the joint (independent
phantoms, two touching knees flexed 39 deg on 3 mm slices: half the femur's metaphysis, 50 mm above the
joint, called tibia in two slices). Each bone keeps its large components only, so such an island was
dropped and left a hole in the femur (femur Dice 0.940). An island of one bone's label, too small to be
kept, that lies mostly on the other bone's label in the slice above or below it along the body axis, is
that other bone. A patella or fibula the network called a bone lies beside the other bone's sections, not
on them, and is still dropped with the small components.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kneeseg_app.core.inference.postprocess import label_bbox

ON_NEIGHBOUR_SHARE = 0.7
"""An island lies in the other bone when at least this share of it is on that bone's label one slice away."""
_FULL = ndimage.generate_binary_structure(3, 3)


def relabel_islands(labels: np.ndarray, bone: int, other: int, axis: int, min_fraction: float) -> int:
    """Give ``other``, in place, the components of ``bone`` smaller than ``min_fraction`` of its largest
    that lie on ``other``'s label one slice away along ``axis``; returns the voxels relabelled."""
    found = label_bbox(labels, bone)
    if found is None:
        return 0
    box = tuple(slice(max(s.start - 1, 0), min(s.stop + 1, n)) for s, n in zip(found, labels.shape))
    region = labels[box]
    components, count = ndimage.label(region == bone, structure=_FULL)
    if count <= 1:
        return 0
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    small = sizes < min_fraction * sizes.max()
    small[0] = False
    if not small.any():
        return 0
    on_neighbour = np.bincount(components[_next_to(region == other, axis)], minlength=count + 1)
    taken = small & (on_neighbour >= ON_NEIGHBOUR_SHARE * sizes)  # lying on it, it touches it; never 0
    if not taken.any():
        return 0
    moved = taken[components]
    region[moved] = other
    return int(np.count_nonzero(moved))


def _next_to(mask: np.ndarray, axis: int) -> np.ndarray:
    """Voxels whose neighbour one slice up or down along ``axis`` is in ``mask``."""
    out = np.zeros_like(mask)
    before = [slice(None)] * 3
    after = [slice(None)] * 3
    before[axis], after[axis] = slice(None, -1), slice(1, None)
    out[tuple(before)] |= mask[tuple(after)]
    out[tuple(after)] |= mask[tuple(before)]
    return out
