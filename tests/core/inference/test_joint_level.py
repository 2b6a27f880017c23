"""A leg whose bone the network called all one bone, beside a leg with a knee, is parted at that knee's joint
level; a leg holding both bones, or one that does not reach past the level, keeps its labels."""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.inference.bone_layout import apply_bone_layout
from kneeseg_app.core.inference.joint_level import REACH_MM, joint_level, part_at_level
from kneeseg_app.core.volume import Volume

FEMUR, TIBIA = 1, 2


def _column(femur: range, tibia: range, n: int = 40) -> np.ndarray:
    """Labels (slices superior first) of a 4 x 4 bone: femur on ``femur``'s slices, tibia on ``tibia``'s."""
    view = np.zeros((n, 6, 6), dtype=np.uint8)
    view[list(femur), 1:5, 1:5] = FEMUR
    view[list(tibia), 1:5, 1:5] = TIBIA
    return view


def test_the_level_is_midway_between_the_femurs_end_and_the_tibias_top() -> None:
    assert joint_level(_column(range(10), range(12, 20)), FEMUR, TIBIA) == 10.5


def test_in_a_flexed_knee_the_level_is_the_middle_of_the_overlap() -> None:
    view = _column(range(15), range(0))
    view[10:21, 0, 0] = TIBIA  # the plateau's back beside the condyles
    assert joint_level(view, FEMUR, TIBIA) == 12.0


def test_no_level_without_both_bones() -> None:
    assert joint_level(_column(range(20), range(0)), FEMUR, TIBIA) is None


def test_a_leg_called_femur_from_end_to_end_is_parted_at_the_level() -> None:
    view = _column(range(40), range(0))
    changed = part_at_level(view, 14.5, 2.0, FEMUR, TIBIA)
    assert (view[:15][:, 1:5, 1:5] == FEMUR).all() and (view[15:][:, 1:5, 1:5] == TIBIA).all()
    assert changed == 25 * 16


def test_a_leg_called_tibia_from_end_to_end_is_parted_too() -> None:
    view = _column(range(0), range(40))
    part_at_level(view, 20.0, 2.0, FEMUR, TIBIA)
    assert (view[:21][:, 1:5, 1:5] == FEMUR).all() and (view[21:][:, 1:5, 1:5] == TIBIA).all()


def test_a_leg_holding_both_bones_keeps_its_labels() -> None:
    view = _column(range(30), range(30, 40))
    before = view.copy()
    assert part_at_level(view, 14.5, 2.0, FEMUR, TIBIA) == 0
    assert (view == before).all()


def test_a_leg_that_does_not_reach_past_the_level_keeps_its_labels() -> None:
    """A femur that ends just below the other knee's joint level (its tibia out of view) stays femur."""
    reach = int(REACH_MM / 2.0)
    short = _column(range(15 + reach - 1), range(0))
    assert part_at_level(short, 14.5, 2.0, FEMUR, TIBIA) == 0
    above = _column(range(15 - reach + 1, 40), range(0))  # starts too close above the level
    assert part_at_level(above, 14.5, 2.0, FEMUR, TIBIA) == 0
    long_enough = _column(range(15 + reach + 1), range(0))
    assert part_at_level(long_enough, 14.5, 2.0, FEMUR, TIBIA) > 0


SHAPE = (40, 64, 96)  # 2 mm voxels, identity direction: z 0 is inferior
JOINT = 20


def _two_legs() -> tuple[Volume, np.ndarray]:
    """Two legs (columns 22 and 72): soft tissue, a tibia below and a femur above the joint, both wider
    within 16 mm of it (a knee's bones flare toward the joint)."""
    ct = np.full(SHAPE, -1000, dtype=np.int16)
    truth = np.zeros(SHAPE, dtype=np.uint8)
    zz, yy, xx = np.indices(SHAPE)
    for x in (22, 72):
        ct[((yy - 30) ** 2 + (xx - x) ** 2) <= 14**2] = 40
        radius = np.where(np.abs(zz - JOINT) <= 8, 10, 7)
        bone = ((yy - 30) ** 2 + (xx - x) ** 2) <= radius**2
        truth[bone & (zz > JOINT)], truth[bone & (zz < JOINT)] = FEMUR, TIBIA
    ct[truth > 0] = 700
    return Volume(ct, (2.0, 2.0, 2.0)), truth


def test_the_anatomy_rule_parts_a_leg_called_femur_only_at_the_other_knees_level() -> None:
    ct, truth = _two_legs()
    pred = truth.copy()
    other = pred[:, :, 48:]
    other[other == TIBIA] = FEMUR  # the network called the other leg's tibia femur
    result = apply_bone_layout(pred, ct, FEMUR, TIBIA)
    assert [j.is_knee for j in result.joints].count(True) == 1
    assert (pred == truth).all()


def test_in_patient_order_whatever_the_array_order() -> None:
    ct, truth = _two_legs()
    flipped = Volume(ct.array[::-1].copy(), ct.spacing_zyx, direction=np.diag([1.0, 1.0, -1.0]))
    pred = truth[::-1].copy()
    other = pred[:, :, 48:]
    other[other == FEMUR] = TIBIA  # now the whole other leg called tibia
    apply_bone_layout(pred, flipped, FEMUR, TIBIA)
    assert (pred == truth[::-1]).all()
