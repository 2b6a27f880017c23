"""Posterior condyles of a flexed knee that the network called tibia.

On axial slices of a knee flexed 30-45 deg the posterior condyles hang down beside the back of the
tibial plateau, and a 2D network that sees round bone in the tibia's slices calls it tibia, whole
condyle sections at a time (independent phantoms, two touching knees flexed 35-40 deg on 3 mm slices:
4-6 slices, femur Dice 0.934 / 0.939). Such a section continues a condyle: it is an island of the
tibia's label in its slice, its footprint lies inside the femur's label of the slice above, under one
condyle, and it is no larger than that condyle's section there. Walking down from the slice above the
tibia's first, each such island becomes femur and the next slice is judged against the corrected one,
for as long as the femur goes on (at most :data:`WALK_MM`).

A plateau's top is one wide section under both condyles and larger than either, so it is left alone.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kneeseg_app.core.inference.bone_ends import labelled_slices

INSIDE_SHARE = 0.7
"""An island continues a condyle when at least this share of it lies on the femur of the slice above."""
WALK_MM = 30.0
"""How far below the tibia's first slice the walk may go (a condyle's height)."""
_PLANE = np.ones((3, 3), dtype=bool)


def return_condyles(view: np.ndarray, slice_mm: float, femur: int, tibia: int) -> int:
    """Give the femur back the tibia islands that continue its condyles, in place; returns voxels changed.

    ``view``: one leg's labels with the slices ordered superior first (a view: writes reach the caller)."""
    tibia_slices = labelled_slices(view, tibia)
    if not tibia_slices.size or tibia_slices[0] == 0:
        return 0
    changed = 0
    first = int(tibia_slices[0])
    last = min(view.shape[0] - 1, first + max(1, int(round(WALK_MM / slice_mm))))
    for z in range(first, last + 1):
        above = view[z - 1] == femur
        if not above.any():
            break
        changed += _condyle_islands(view[z], above, femur, tibia)
    return changed


def _condyle_islands(plane: np.ndarray, femur_above: np.ndarray, femur: int, tibia: int) -> int:
    """Relabel femur, in ``plane``, each tibia island lying inside one femur section of the slice above
    (:data:`INSIDE_SHARE`) and no larger than it."""
    islands, count = ndimage.label(plane == tibia, structure=_PLANE)
    if not count:
        return 0
    sections, _ = ndimage.label(femur_above, structure=_PLANE)
    section_area = np.bincount(sections.ravel())
    area = np.bincount(islands.ravel(), minlength=count + 1)
    under = islands[femur_above]
    inside = np.bincount(under, minlength=count + 1)
    changed = 0
    for island in np.flatnonzero(inside >= INSIDE_SHARE * area):
        if island == 0:
            continue
        touched = np.unique(sections[femur_above & (islands == island)])
        if touched.size == 1 and area[island] <= section_area[touched[0]]:
            plane[islands == island] = femur
            changed += int(area[island])
    return changed
