"""A flexed knee's posterior condyles that the network called tibia, slice after slice below the tibia's
first, return to the femur; a plateau's top, bone beside the condyles and islands below the femur's end
stay tibia."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.inference.bone_layout import apply_bone_layout
from kneeseg_app.core.inference.flexed_condyles import INSIDE_SHARE, WALK_MM, return_condyles
from kneeseg_app.core.volume import Volume

FEMUR, TIBIA = 1, 2
SHAPE = (30, 60, 80)  # superior first: the femur's shaft in slices 0-4, its condyles down to slice 17
CONDYLES_END = 18
TIBIA_START = 12


def _disk(y: float, x: float, radius: float) -> np.ndarray:
    yy, xx = np.indices(SHAPE[1:])
    return ((yy - y) ** 2 + (xx - x) ** 2) <= radius**2


def _flexed_knee() -> tuple[np.ndarray, np.ndarray]:
    """Truth of a flexed knee: the femur's condyles (two disks shrinking toward their ends) go on below the
    tibia's first slice, beside the plateau in front of them; and the network's labels, which call every
    condyle section in the tibia's slices tibia."""
    truth = np.zeros(SHAPE, dtype=np.uint8)
    for z in range(5):
        truth[z][_disk(20, 40, 7)] = FEMUR  # the shaft
    for z in range(5, CONDYLES_END):
        radius = 9 if z < 10 else 9 - 0.6 * (z - 10)
        for x in (25, 55):
            truth[z][_disk(20, x, radius)] = FEMUR
    for z in range(TIBIA_START, SHAPE[0]):
        radius = 14 if z < TIBIA_START + 8 else 9  # the plateau, wider than the shaft below it
        truth[z][_disk(45, 40, radius)] = TIBIA  # in front of the condyles
    network = truth.copy()
    below = network[TIBIA_START:]
    below[below == FEMUR] = TIBIA
    return truth, network


def test_condyle_sections_called_tibia_return_to_the_femur_slice_after_slice() -> None:
    truth, network = _flexed_knee()
    changed = return_condyles(network, 3.0, FEMUR, TIBIA)
    assert (network == truth).all()
    assert changed == int(((truth == FEMUR) & (np.arange(SHAPE[0]) >= TIBIA_START)[:, None, None]).sum())


def test_the_tibia_beside_the_condyles_is_left_alone() -> None:
    truth, network = _flexed_knee()
    return_condyles(network, 3.0, FEMUR, TIBIA)
    assert (network[truth == TIBIA] == TIBIA).all()


def test_a_plateau_under_both_condyles_stays_tibia() -> None:
    """An extended knee: the plateau's top section spans both condyles above it."""
    labels = np.zeros(SHAPE, dtype=np.uint8)
    for z in range(12):
        for x in (25, 55):
            labels[z][_disk(20, x, 9)] = FEMUR
    for z in range(12, SHAPE[0]):
        labels[z][_disk(20, 40, 22)] = TIBIA
    before = labels.copy()
    assert return_condyles(labels, 3.0, FEMUR, TIBIA) == 0
    assert (labels == before).all()


def test_an_island_larger_than_the_condyle_above_it_stays_tibia() -> None:
    labels = np.zeros(SHAPE, dtype=np.uint8)
    labels[:12][:, _disk(20, 25, 6)] = FEMUR
    labels[12:][:, _disk(20, 25, 7)] = TIBIA  # covers the condyle and more
    assert return_condyles(labels, 3.0, FEMUR, TIBIA) == 0


def test_an_island_only_partly_under_the_femur_stays_tibia() -> None:
    labels = np.zeros(SHAPE, dtype=np.uint8)
    labels[:12][:, _disk(20, 25, 9)] = FEMUR
    island = _disk(20, 25 + 9, 5)  # about half of it lies outside the condyle's section
    assert np.count_nonzero(island & _disk(20, 25, 9)) < INSIDE_SHARE * np.count_nonzero(island)
    labels[12][island] = TIBIA
    labels[13:][:, _disk(45, 40, 12)] = TIBIA
    assert return_condyles(labels, 3.0, FEMUR, TIBIA) == 0


def test_an_island_under_two_femur_sections_stays_tibia() -> None:
    labels = np.zeros(SHAPE, dtype=np.uint8)
    for x in (29, 47):
        labels[:12][:, _disk(20, x, 8.6)] = FEMUR  # one column apart
    island = _disk(20, 38, 5)  # across the notch between the condyles, under both
    assert np.count_nonzero(island & (labels[11] == FEMUR)) >= INSIDE_SHARE * np.count_nonzero(island)
    labels[12][island] = TIBIA
    labels[13:][:, _disk(45, 40, 12)] = TIBIA
    assert return_condyles(labels, 3.0, FEMUR, TIBIA) == 0


def test_the_walk_stops_where_the_femur_ends() -> None:
    """A bit of femur label lower down (a fabella, an osteophyte) does not start it again."""
    labels = np.zeros(SHAPE, dtype=np.uint8)
    labels[:12][:, _disk(20, 25, 9)] = FEMUR
    labels[12:][:, _disk(45, 40, 12)] = TIBIA  # the tibia's first slice: nothing of the femur goes on
    labels[14][_disk(20, 25, 6)] = FEMUR
    labels[15][_disk(20, 25, 5)] = TIBIA  # under that bit, and smaller
    before = labels.copy()
    assert return_condyles(labels, 3.0, FEMUR, TIBIA) == 0
    assert (labels == before).all()


@pytest.mark.parametrize("slice_mm", [1.0, 3.0])
def test_the_walk_goes_no_farther_than_a_condyle_is_high(slice_mm: float) -> None:
    labels = np.zeros((80, *SHAPE[1:]), dtype=np.uint8)
    labels[:5][:, _disk(20, 25, 9)] = FEMUR
    labels[5:][:, _disk(20, 25, 6)] = TIBIA  # a "condyle" going on for 75 slices
    return_condyles(labels, slice_mm, FEMUR, TIBIA)
    returned = np.flatnonzero((labels[5:] == FEMUR).any(axis=(1, 2)))
    assert returned.size == int(round(WALK_MM / slice_mm)) + 1


def test_a_scan_that_starts_in_the_tibia_is_left_alone() -> None:
    """Nothing lies above its first slice (the last slice, femur here, is not "above" it)."""
    labels = np.zeros(SHAPE, dtype=np.uint8)
    labels[:, _disk(20, 25, 6)] = TIBIA
    labels[-1][_disk(20, 25, 9)] = FEMUR
    assert return_condyles(labels, 3.0, FEMUR, TIBIA) == 0


def test_the_anatomy_rule_returns_a_flexed_knees_condyles_in_patient_order() -> None:
    """Through the whole rule, with the array stored inferior first (z 0 is the ankle's side): the condyles'
    lowest sections lie inside the plateau's outline (bone on bone: no erosion parts them), so the rule
    cannot part the leg and keeps the network's labels; the condyle sections above, islands in their
    slices, return to the femur. The sections inside the plateau stay tibia: no island, no way to tell."""
    truth, network = _flexed_knee()
    embedded = np.zeros(SHAPE, dtype=bool)
    embedded[15:CONDYLES_END, 8:46, 12:68] = True
    truth[embedded & (truth == 0)] = TIBIA  # the plateau's back, around the condyles' lowest sections
    network[embedded] = TIBIA
    ct = np.full(SHAPE, -1000, dtype=np.int16)
    ct[:, 2:, 2:78] = 40  # the leg's soft tissue
    ct[truth > 0] = 700
    volume = Volume(ct[::-1].copy(), (3.0, 1.0, 1.0))  # identity direction: index 0 is inferior
    pred = network[::-1].copy()
    apply_bone_layout(pred, volume, FEMUR, TIBIA)
    pred = pred[::-1]
    islands = (truth == FEMUR) & (np.arange(SHAPE[0]) >= TIBIA_START)[:, None, None] & ~embedded
    assert islands.any() and (pred[islands] == FEMUR).all()
    assert (pred[truth == TIBIA] == TIBIA).all()
    assert (pred[embedded & (truth == FEMUR)] == TIBIA).all()
    assert (pred[:TIBIA_START][truth[:TIBIA_START] == FEMUR] == FEMUR).all()
