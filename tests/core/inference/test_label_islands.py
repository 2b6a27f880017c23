"""An island of one bone's label inside the other bone goes to that bone; a patella or fibula called a bone
beside the other bone, islands mostly off it and large components stay as they are."""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.inference.bone_layout import SAME_BONE_FRACTION, apply_bone_layout
from kneeseg_app.core.inference.label_islands import ON_NEIGHBOUR_SHARE, relabel_islands
from kneeseg_app.core.volume import Volume

FEMUR, TIBIA = 1, 2
SHAPE = (40, 64, 96)  # 2 mm voxels, identity direction: z 0 is inferior
JOINT = 20
ISLAND_Z = slice(30, 32)  # two slices of the femur's metaphysis, 20 mm above the joint


def _knee(closed: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """CT and truth of one leg: a tibia below and a femur above the joint, both flaring toward it; apart by
    a slice, or ``closed`` (bone on bone: no erosion parts them)."""
    ct = np.full(SHAPE, -1000, dtype=np.int16)
    truth = np.zeros(SHAPE, dtype=np.uint8)
    zz, yy, xx = np.indices(SHAPE)
    ct[((yy - 30) ** 2 + (xx - 40) ** 2) <= 18**2] = 40
    radius = np.where(np.abs(zz - JOINT) <= 8, 10, 7)
    if closed:
        radius = np.where(np.abs(zz - JOINT + 0.5) <= 1, 8, radius)  # the joint space: a waist, bone on bone
    bone = ((yy - 30) ** 2 + (xx - 40) ** 2) <= radius**2
    truth[bone & (zz >= JOINT + (0 if closed else 1))], truth[bone & (zz < JOINT)] = FEMUR, TIBIA
    ct[truth > 0] = 700
    return ct, truth


def _half_section_called_tibia(truth: np.ndarray) -> np.ndarray:
    network = truth.copy()
    half = network[ISLAND_Z, :, 40:]
    half[half == FEMUR] = TIBIA
    return network


def test_half_a_femur_section_called_tibia_returns_to_the_femur() -> None:
    _, truth = _knee()
    network = _half_section_called_tibia(truth)
    moved = relabel_islands(network, TIBIA, FEMUR, 0, SAME_BONE_FRACTION)
    assert moved == np.count_nonzero(truth[ISLAND_Z, :, 40:] == FEMUR)
    assert (network == truth).all()


def test_a_patella_called_tibia_against_the_femur_stays_tibia() -> None:
    """In front of the femur and touching it, but on no femur label one slice above or below."""
    _, truth = _knee()
    network = truth.copy()
    network[26:34, 19:23, 36:44] = TIBIA  # in front of the femur's section (rows 23-37)
    before = network.copy()
    assert relabel_islands(network, TIBIA, FEMUR, 0, SAME_BONE_FRACTION) == 0
    assert (network == before).all()


def test_an_island_mostly_beside_the_neighbour_slices_femur_stays() -> None:
    _, truth = _knee()
    network = truth.copy()
    network[ISLAND_Z, 30:33, 47:60] = TIBIA  # its outer part runs beyond the femur (radius 7 there)
    island = network[ISLAND_Z] == TIBIA
    on_femur = np.count_nonzero(island & (truth[ISLAND_Z.start - 1] == FEMUR))
    assert on_femur < ON_NEIGHBOUR_SHARE * np.count_nonzero(island)
    assert relabel_islands(network, TIBIA, FEMUR, 0, SAME_BONE_FRACTION) == 0


def test_a_component_large_enough_to_keep_is_left_to_the_rule() -> None:
    """Two whole femur sections called tibia above a short tibia: half the tibia's size, not an island."""
    _, truth = _knee()
    truth[: JOINT - 3] = 0
    network = truth.copy()
    network[ISLAND_Z][network[ISLAND_Z] == FEMUR] = TIBIA
    assert np.count_nonzero(network[ISLAND_Z]) >= SAME_BONE_FRACTION * np.count_nonzero(truth == TIBIA)
    before = network.copy()
    assert relabel_islands(network, TIBIA, FEMUR, 0, SAME_BONE_FRACTION) == 0
    assert (network == before).all()


def test_the_neighbour_slices_are_taken_along_the_given_axis() -> None:
    _, truth = _knee()
    network = np.moveaxis(_half_section_called_tibia(truth), 0, 2).copy()
    relabel_islands(network, TIBIA, FEMUR, 2, SAME_BONE_FRACTION)
    assert (np.moveaxis(network, 2, 0) == truth).all()


def test_the_anatomy_rule_keeps_the_femurs_section_whole() -> None:
    """A closed knee: one piece the rule cannot part, so it keeps the network's labels slice by slice and
    would have dropped the island as a small component of the tibia."""
    ct, truth = _knee(closed=True)
    network = _half_section_called_tibia(truth)
    result = apply_bone_layout(network, Volume(ct, (2.0, 2.0, 2.0)), FEMUR, TIBIA)
    assert result.joints[0].is_knee
    assert (network[ISLAND_Z] == truth[ISLAND_Z]).all()
    assert (network[JOINT + 2 :] == truth[JOINT + 2 :]).all() and (network[: JOINT - 2] == truth[: JOINT - 2]).all()
