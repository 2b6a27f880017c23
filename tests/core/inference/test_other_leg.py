"""A sliver of the other leg, cut lengthwise by the field of view, keeps its bone: femur above the knee's
joint level, tibia below. Pieces the view's edge does not cut, pieces too small, pieces far above or below
the knee and pieces within one leg's width of it stay dropped."""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.inference.bone_layout import MINOR_FRACTION, apply_bone_layout
from kneeseg_app.core.inference.other_leg import MIN_ML, NEAR_JOINT_MM
from kneeseg_app.core.volume import Volume

FEMUR, TIBIA = 1, 2
SHAPE = (40, 64, 96)  # 2 mm voxels, identity direction: z 0 is inferior
SPACING = (2.0, 2.0, 2.0)
JOINT = 20
SLIVER_Z = slice(10, 31)  # the other leg's bone, across its knee's joint
SLIVER_ROWS = slice(26, 35)


def _knee(shape: tuple[int, int, int] = SHAPE) -> tuple[np.ndarray, np.ndarray]:
    """CT and truth of a leg around column 22 (a tibia below and a femur above the joint, both flaring
    toward it) and, beyond the image's right border, the other leg: soft tissue from column 84 on."""
    ct = np.full(shape, -1000, dtype=np.int16)
    truth = np.zeros(shape, dtype=np.uint8)
    zz, yy, xx = np.indices(shape)
    ct[((yy - 30) ** 2 + (xx - 22) ** 2) <= 14**2] = 40
    ct[:, 16:45, 84:] = 40
    radius = np.where(np.abs(zz - JOINT) <= 8, 10, 7)
    bone = ((yy - 30) ** 2 + (xx - 22) ** 2) <= radius**2
    truth[bone & (zz > JOINT)], truth[bone & (zz < JOINT)] = FEMUR, TIBIA
    ct[truth > 0] = 700
    return ct, truth


def _with_sliver(
    columns: slice, z: slice = SLIVER_Z, shape: tuple[int, int, int] = SHAPE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The knee plus a sliver of the other leg's bone in ``columns``, all of it called femur by the
    network; returns CT, the network's labels and the truth the rule should give (femur above the knee's
    joint level, midway between the femur's lowest slice and the tibia's highest, tibia below)."""
    ct, truth = _knee(shape)
    network = truth.copy()
    ct[z, SLIVER_ROWS, columns] = 700
    network[z, SLIVER_ROWS, columns] = FEMUR
    expected = truth.copy()
    levels = np.arange(shape[0])[z]
    for level in levels:
        expected[level, SLIVER_ROWS, columns] = FEMUR if level >= JOINT else TIBIA
    return ct, network, expected


def _rule(ct: np.ndarray, labels: np.ndarray) -> np.ndarray:
    out = labels.copy()
    apply_bone_layout(out, Volume(ct, SPACING), FEMUR, TIBIA)
    return out


def test_a_sliver_cut_by_the_images_border_is_femur_above_the_joint_and_tibia_below() -> None:
    ct, network, expected = _with_sliver(slice(90, 96))
    assert (_rule(ct, network) == expected).all()


def test_a_sliver_against_the_padding_of_the_reconstruction_circle_is_kept_too() -> None:
    ct, network, expected = _with_sliver(slice(84, 90))
    ct[:, :, 90:] = -2048  # outside the reconstruction circle
    assert (_rule(ct, network) == expected).all()


def test_a_piece_the_views_edge_does_not_cut_stays_dropped() -> None:
    """Inside the other leg's soft tissue (a cast's rod, a calibration insert): not a leg cut by the view."""
    ct, network, _ = _with_sliver(slice(84, 90))
    ct[:, 16:45, 76:84] = 40  # soft tissue all around it, far from air and the border
    _, truth = _knee()
    assert (_rule(ct, network) == truth).all()


def test_a_sliver_smaller_than_the_least_volume_stays_dropped() -> None:
    z = slice(JOINT + 2, JOINT + 4)
    ct, network, _ = _with_sliver(slice(90, 96), z)
    assert np.count_nonzero(network[z, SLIVER_ROWS, 90:]) * np.prod(SPACING) / 1000.0 < MIN_ML
    _, truth = _knee()
    assert (_rule(ct, network) == truth).all()


def test_a_piece_far_above_the_knee_stays_dropped() -> None:
    """A long scan's pelvis or other hip, cut by a narrow field and called femur, lies far above the knee:
    the other knee lies at the knee's height."""
    tall = (80, *SHAPE[1:])
    z = slice(JOINT + int(NEAR_JOINT_MM / SPACING[0]) + 1, 78)
    ct, network, _ = _with_sliver(slice(90, 96), z, tall)
    _, truth = _knee(tall)
    assert (_rule(ct, network) == truth).all()
    near = slice(z.start - 1, 78)
    ct, network, expected = _with_sliver(slice(90, 96), near, tall)
    assert (_rule(ct, network) == expected).all()


def test_bone_within_one_legs_width_of_the_knee_is_not_looked_at() -> None:
    """A fibula-like rod beside the knee's own leg, cut by the image's top border: the knee's leg decides
    it (here: dropped, a small part), never this step."""
    ct, truth = _knee()
    ct[:, :18, 28:42] = 40  # its soft tissue, joined to the leg's
    ct[SLIVER_Z, :4, 34:39] = 700
    network = truth.copy()
    network[SLIVER_Z, :4, 34:39] = TIBIA
    rod = np.count_nonzero(network[:, :4])
    assert rod * np.prod(SPACING) / 1000.0 >= MIN_ML
    largest = max(np.count_nonzero(truth == FEMUR), np.count_nonzero(truth == TIBIA))
    assert rod < MINOR_FRACTION * largest  # too small a piece to join the knee's leg
    assert (_rule(ct, network) == truth).all()


def test_in_patient_order_whatever_the_array_order() -> None:
    ct, network, expected = _with_sliver(slice(90, 96))
    flipped = Volume(ct[::-1].copy(), SPACING, direction=np.diag([1.0, 1.0, -1.0]))
    out = network[::-1].copy()
    apply_bone_layout(out, flipped, FEMUR, TIBIA)
    assert (out == expected[::-1]).all()
