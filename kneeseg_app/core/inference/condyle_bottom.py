"""The femoral condyles' lowest slab, which the network leaves unlabelled on thick slices.

On 5 mm slices the slab through the bottom of a condyle holds bone for part of its thickness only:
it shows as nested rings of blurred cortex, brighter than the marrow of the slice above, and a 2D
network that learnt condyles as marrow inside a cortex does not call it bone (stress knee-90403: the
medial condyle's last slab, 1,900 pixels, unlabelled beside a labelled lateral one; femur HD95 3.1 mm,
every missed pixel 5 mm from the label above it). Such a slab is an island of dense unlabelled pixels
that lies under the femur's label of the slice above and touches no labelled bone in its own slice (so
a bone's blurred rim, which always touches its label, is never taken). Each island is judged against the
labels as the rest of the anatomy rule left them, never against an island just given to the femur: the
step adds one slab per condyle, it cannot walk down into a tibia the network missed.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kneeseg_app.core.inference.bone_ends import labelled_slices
from kneeseg_app.core.inference.cut_bone import DENSE_HU, METAL_MARGIN_MM, grown_box, near_metal_in_box
from kneeseg_app.core.inference.densities import METAL_HU
from kneeseg_app.core.inference.knee_joint import superior_axis
from kneeseg_app.core.volume import Volume

INSIDE_SHARE = 0.9
"""An island is the condyle's bottom when at least this share of it lies on the femur of the slice above."""
MIN_AREA_MM2 = 10.0
"""Smaller islands (a vessel's calcification, noise) are left alone: they cannot move a surface far."""
_PLANE = np.ones((3, 3), dtype=bool)


def fill_condyle_bottoms(labels: np.ndarray, ct: Volume, femur: int) -> int:
    """Give the femur, in place, the dense unlabelled islands that continue its sections one slice down;
    returns the voxels added."""
    axis, sign = superior_axis(ct.direction)
    view = np.moveaxis(labels, axis, 0)[:: -int(sign)]  # superior first, writable
    hu = np.moveaxis(np.asarray(ct.array), axis, 0)[:: -int(sign)]
    pixel_mm2 = float(np.prod([ct.spacing_zyx[a] for a in range(3) if a != axis]))
    pixel_mm = float(np.sqrt(pixel_mm2))
    min_area = max(1, int(np.ceil(MIN_AREA_MM2 / pixel_mm2)))
    added = 0
    # From the bottom up, so each slice is judged against the slice above as the step found it.
    for z in labelled_slices(view, femur)[::-1] + 1:
        if z < view.shape[0]:
            added += _bottom_islands(view[z], hu[z], view[z - 1] == femur, femur, min_area, pixel_mm)
    return added


def _bottom_islands(
    plane: np.ndarray, hu: np.ndarray, femur_above: np.ndarray, femur: int, min_area: int, pixel_mm: float
) -> int:
    """Relabel femur, in ``plane``, each island of dense unlabelled pixels lying on ``femur_above``
    (:data:`INSIDE_SHARE`) and touching no label; returns the pixels changed."""
    unlabelled = plane == 0
    if np.count_nonzero(femur_above & unlabelled & (hu >= DENSE_HU)) < INSIDE_SHARE * min_area:
        return 0  # the usual slice: its femur covers what lies under the femur above
    margin = int(np.ceil(METAL_MARGIN_MM / pixel_mm))
    box = grown_box(femur_above, margin)
    free = unlabelled[box] & (hu[box] >= DENSE_HU) & (hu[box] < METAL_HU)
    free &= ~near_metal_in_box(hu, box, margin)
    free = ndimage.binary_fill_holes(free) & unlabelled[box]  # a slab's rings enclose fainter bone
    islands, count = ndimage.label(free, structure=_PLANE)
    if not count:
        return 0
    area = np.bincount(islands.ravel(), minlength=count + 1)
    inside = np.bincount(islands[femur_above[box]], minlength=count + 1)
    touching = np.unique(islands[ndimage.binary_dilation(~unlabelled[box], structure=_PLANE)])
    edge = np.unique(np.concatenate([islands[0], islands[-1], islands[:, 0], islands[:, -1]]))
    taken = (area >= min_area) & (inside >= INSIDE_SHARE * area)
    taken[np.concatenate([[0], touching, edge])] = False  # beyond the box: not known to lie under the femur
    if not taken.any():
        return 0
    region = plane[box]
    region[taken[islands]] = femur
    return int(area[taken].sum())
