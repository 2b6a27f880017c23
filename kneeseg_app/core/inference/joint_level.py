"""A leg whose bone was all called one bone, beside a leg with a knee: parted at that knee's joint level.

When the field of view cuts the other knee (a narrow field centred on one knee, the other at the image's
edge), the network may call every bone of that leg femur, or tibia: on deep flexion on 4 mm slices the
cut leg's tibia was "femur" from end to end (femur Dice 0.50, tibia 0). The knee-joint test then finds "a
femur without a tibia" there, while the other leg has a knee. Both knees of one scan lie at about the same
height, so that leg's bone below the knee's joint level is tibia and above it femur, when it reaches at
least :data:`REACH_MM` past the level on both sides (a leg that only shows its femur keeps it).
"""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.inference.bone_ends import labelled_slices

REACH_MM = 20.0
"""How far a one-bone leg must reach past the joint level, above and below, to be parted there."""


def joint_level(view: np.ndarray, femur: int, tibia: int) -> float | None:
    """The joint level of a knee's labels (slices superior first): midway between the femur's lowest slice
    and the tibia's highest (in a flexed knee they overlap, and the level is the overlap's middle)."""
    femur_slices, tibia_slices = labelled_slices(view, femur), labelled_slices(view, tibia)
    if not femur_slices.size or not tibia_slices.size:
        return None
    return (float(femur_slices[-1]) + float(tibia_slices[0])) / 2.0


def first_tibia_slice(level: float) -> int:
    """Index (superior first) of the first slice below the joint ``level``: the level's own slice stays
    with the femur."""
    return int(np.floor(level)) + 1


def part_at_level(view: np.ndarray, level: float, slice_mm: float, femur: int, tibia: int) -> int:
    """Relabel a one-bone leg's labels (slices superior first, in place): femur down to ``level``, tibia
    below it; returns the voxels relabelled (0 when the leg holds both bones or does not reach past the
    level by :data:`REACH_MM` on both sides)."""
    femur_slices, tibia_slices = labelled_slices(view, femur), labelled_slices(view, tibia)
    if bool(femur_slices.size) == bool(tibia_slices.size):  # both bones, or none
        return 0
    slices = femur_slices if femur_slices.size else tibia_slices
    reach = REACH_MM / slice_mm
    if slices[0] > level - reach or slices[-1] < level + reach:
        return 0
    cut = first_tibia_slice(level)
    upper, lower = view[:cut], view[cut:]
    changed = int(np.count_nonzero(upper == tibia) + np.count_nonzero(lower == femur))
    upper[upper == tibia] = femur
    lower[lower == femur] = tibia
    return changed
