"""A band of dense bone beside a bone's label, left out of one slice by the network where thick slices cut
a surface obliquely, is given to that bone when its neighbouring slices cover it: the tibial plateau's
sclerotic band, a condyle's. Bone under the other bone's end, bone beside the other bone, a neighbour
such as the fibula's head, blurred rims, faint tissue, pieces near metal or reaching far away stay as
they are, and the step never walks on from a band it just added."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.inference.bone_fringe import (
    FRINGE_HU,
    HIDDEN_GAP_MM,
    NEIGHBOURHOOD_MM,
    OPENING_MM,
    fill_bone_fringes,
)
from kneeseg_app.core.inference.bone_layout import apply_bone_layout
from kneeseg_app.core.inference.cut_bone import METAL_MARGIN_MM
from kneeseg_app.core.inference.densities import METAL_HU
from kneeseg_app.core.volume import Volume

FEMUR, TIBIA = 1, 2
SHAPE = (26, 90, 130)  # superior first
SPACING = (3.0, 0.5, 0.5)
FEMUR_END = 9  # the condyles' last slice
PLATEAU = 12  # the tibia's first slice
BAND = 14  # the slice whose plateau band the network missed
CONDYLES, PLATEAU_CENTRE = ((45, 45), (45, 85)), (45, 65)
SOFT, MARROW, SCLEROTIC = 40, 300, 650


def _disk(centre: tuple[float, float], radius: float) -> np.ndarray:
    yy, xx = np.indices(SHAPE[1:])
    return ((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) <= radius**2


def _band(rows: int = 12) -> np.ndarray:
    """The plateau's front ``rows`` pixels (``rows`` * 0.5 mm) over 12 mm of its width: bone the slice cuts
    through its sclerotic surface."""
    plateau = _disk(PLATEAU_CENTRE, 30)
    top = np.flatnonzero(plateau.any(axis=1))[0]
    band = plateau.copy()
    band[top + rows :] = False
    band[:, : PLATEAU_CENTRE[1] - 12] = False
    band[:, PLATEAU_CENTRE[1] + 13 :] = False
    return band


def _knee() -> tuple[np.ndarray, np.ndarray]:
    """CT and true labels, superior first: two condyles down to ``FEMUR_END``, the joint space, the plateau
    from ``PLATEAU`` and the shaft; marrow inside, the band of slice ``BAND`` sclerotic."""
    ct = np.full(SHAPE, SOFT, dtype=np.int16)
    truth = np.zeros(SHAPE, dtype=np.uint8)
    for z in range(FEMUR_END + 1):
        for centre in CONDYLES:
            truth[z][_disk(centre, 16)] = FEMUR
    for z in range(PLATEAU, SHAPE[0]):
        truth[z][_disk(PLATEAU_CENTRE, 30 if z < PLATEAU + 7 else 12)] = TIBIA
    ct[truth > 0] = MARROW
    ct[BAND][_band()] = SCLEROTIC
    return ct, truth


def _volume(ct: np.ndarray) -> Volume:
    """Stored inferior first, as an identity direction means (index 0 is the most inferior slice)."""
    return Volume(ct[::-1].copy(), SPACING)


def _filled(network: np.ndarray, ct: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    labels = network[::-1].copy()
    added = fill_bone_fringes(labels, _volume(ct), FEMUR, TIBIA)
    return labels[::-1], added


def _missing_band() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network's labels: the plateau's sclerotic band of slice ``BAND`` unlabelled (independent seed 9 case 11)."""
    ct, truth = _knee()
    network = truth.copy()
    network[BAND][_band()] = 0
    return ct, truth, network


def test_the_plateaus_unlabelled_band_is_given_to_the_tibia() -> None:
    ct, truth, network = _missing_band()
    labels, added = _filled(network, ct)
    assert (labels == truth).all()
    assert added == {FEMUR: 0, TIBIA: np.count_nonzero(_band())}


def test_a_condyles_unlabelled_band_is_given_to_the_femur() -> None:
    ct, truth = _knee()
    rows, cols = np.indices(SHAPE[1:])
    band = _disk(CONDYLES[0], 16) & (rows < CONDYLES[0][0] - 4) & (abs(cols - CONDYLES[0][1]) <= 6)
    ct[5][band] = SCLEROTIC
    network = truth.copy()
    network[5][band] = 0
    labels, added = _filled(network, ct)
    assert (labels == truth).all()
    assert added == {FEMUR: np.count_nonzero(band), TIBIA: 0}


@pytest.mark.parametrize("femur_mm_above", [3.0, 6.0, 9.0])
def test_a_band_under_the_femurs_end_is_left_to_it(femur_mm_above: float) -> None:
    """The femur reaching down over the band within ``HIDDEN_GAP_MM`` (a flexed condyle's last slab beside
    the plateau, deep-flexion 98001): the band is where the femur blurs, not the tibia's; farther up it is."""
    ct, _, network = _missing_band()
    above = BAND - int(femur_mm_above / SPACING[0])
    network[above][_band()] = FEMUR
    _, added = _filled(network, ct)
    assert (added[TIBIA] > 0) == (femur_mm_above > HIDDEN_GAP_MM)


def test_a_band_touching_the_other_bone_is_not_taken() -> None:
    ct, _, network = _missing_band()
    top = np.flatnonzero(_band().any(axis=1))[0]
    network[BAND][top : top + 3, 64:67] = FEMUR  # a condyle's tip the network labelled, against the band
    _, added = _filled(network, ct)
    assert added[TIBIA] == 0


def test_bone_beside_the_tibia_that_its_neighbouring_slices_do_not_cover_is_not_taken() -> None:
    """The fibula's head beside the plateau: dense, touching the tibia's label, unlabelled above and below."""
    ct, truth = _knee()
    head = _disk((PLATEAU_CENTRE[0] + 20, PLATEAU_CENTRE[1] + 36), 9)
    for z in range(BAND - 1, SHAPE[0]):
        ct[z][head & (truth[z] == 0)] = SCLEROTIC
    _, added = _filled(truth, ct)
    assert added == {FEMUR: 0, TIBIA: 0}


def test_a_blurred_rim_thinner_than_the_opening_is_not_taken() -> None:
    rows = 3
    assert rows * SPACING[1] < OPENING_MM
    ct, _, network = _missing_band()
    network[BAND][_band()] = TIBIA
    network[BAND][_band(rows)] = 0
    ct[BAND][_band()] = MARROW
    ct[BAND][_band(rows)] = SCLEROTIC
    _, added = _filled(network, ct)
    assert added[TIBIA] == 0


def test_faint_tissue_beside_the_bone_is_not_taken() -> None:
    ct, _, network = _missing_band()
    ct[BAND][_band()] = int(FRINGE_HU) - 1
    _, added = _filled(network, ct)
    assert added[TIBIA] == 0


def test_a_band_is_judged_against_the_networks_labels_not_a_band_just_added() -> None:
    """The band missed in two slices under a labelled plateau, nothing labelled below them: the upper band
    lies on the plateau and is taken; the lower one lies only on the upper band, judged as the network left
    it (unlabelled), and stays: the step does not walk on through dense tissue."""
    ct, truth, network = _missing_band()
    upper = BAND - 1
    network[upper][_band()] = 0
    network[BAND + 1 :] = 0
    ct[upper][_band()] = SCLEROTIC
    labels, added = _filled(network, ct)
    assert (labels[upper] == truth[upper]).all()
    assert not (labels[BAND][_band()]).any()
    assert added[TIBIA] == np.count_nonzero(_band())


@pytest.mark.parametrize("distance_mm", [METAL_MARGIN_MM - 2.0, METAL_MARGIN_MM + 4.0])
def test_no_pixel_near_metal_is_taken(distance_mm: float) -> None:
    """Streaks around an implant are dense: no pixel within the metal margin is taken, the rest is."""
    ct, _, network = _missing_band()
    band = _band()
    rows, cols = np.nonzero(band)
    metal = (int(rows.mean()), int(round(cols.min() - distance_mm / SPACING[1])))
    assert metal[1] >= 0
    ct[BAND][metal] = int(METAL_HU) + 500
    labels, _ = _filled(network, ct)
    yy, xx = np.indices(SHAPE[1:])
    near = np.hypot(yy - metal[0], xx - metal[1]) * SPACING[1] <= METAL_MARGIN_MM
    assert not (labels[BAND][near & band] == TIBIA).any()
    assert (labels[BAND][band & ~near] == TIBIA).all()
    assert (near & band).any() == (distance_mm < METAL_MARGIN_MM)


def test_a_dense_piece_reaching_far_beyond_the_bones_is_not_taken() -> None:
    """The band joined to a table under the leg: a piece reaching more than ``NEIGHBOURHOOD_MM`` from every
    label of its slice and the two beside it is not a band."""
    ct, _, network = _missing_band()
    assert SHAPE[1] * SPACING[1] > NEIGHBOURHOOD_MM
    top = np.flatnonzero(_band().any(axis=1))[0]
    ct[BAND][: top + 1, 60:70] = SCLEROTIC  # up from the band to the image's edge, 10 mm wide
    ct[BAND][0, :] = SCLEROTIC
    _, added = _filled(network, ct)
    assert added[TIBIA] == 0


def test_a_scan_stored_superior_first_gives_the_same_labels() -> None:
    ct, truth, network = _missing_band()
    flipped = Volume(ct.copy(), SPACING, direction=np.diag([1.0, 1.0, -1.0]))  # index 0 is superior
    labels = network.copy()
    fill_bone_fringes(labels, flipped, FEMUR, TIBIA)
    assert (labels == truth).all()


def test_the_anatomy_rule_gives_the_tibia_its_band() -> None:
    """Through the whole rule: a knee whose femur and tibia are apart, the plateau's band unlabelled."""
    ct, truth, network = _missing_band()
    ct = np.where(np.indices(SHAPE)[1] < 2, -1000, ct).astype(np.int16)  # air in front of the skin
    pred = network[::-1].copy()
    result = apply_bone_layout(pred, _volume(ct), FEMUR, TIBIA)
    assert any(joint.is_knee for joint in result.joints)
    assert (pred[::-1] == truth).all()
    assert result.cut_filled[TIBIA] >= np.count_nonzero(_band())


def test_an_island_apart_from_the_bones_label_in_its_slice_is_not_taken() -> None:
    """Dense bone lying on the tibia of the slice below but parted from the tibia's label of its own slice by
    fainter tissue is not a band beside a bone (a slab's island: the condyle-bottom step judges those)."""
    ct, _, network = _missing_band()
    rows = np.flatnonzero(_band().any(axis=1))
    network[BAND][: rows[-1] + 4] = 0  # four rows of unlabelled marrow between the band and the label
    _, added = _filled(network, ct)
    assert added == {FEMUR: 0, TIBIA: 0}


def _side_by_side() -> tuple[np.ndarray, np.ndarray, Volume]:
    """A small scan, superior first, slices 1-3: a femur section left, a tibia section right, each with a
    dense band 6 mm wide on its inner side in slice 2 that the slices beside it label; the two bands 1.5 mm
    apart, joined by a one-pixel dense bridge (a flexed knee's posterior condyle beside the plateau)."""
    shape = (5, 40, 60)
    ct = np.full(shape, MARROW, dtype=np.int16)
    labels = np.zeros(shape, dtype=np.uint8)
    labels[1:4, 5:35, 2:29] = FEMUR
    labels[1:4, 5:35, 32:58] = TIBIA
    labels[2, 5:35, 17:29] = 0
    labels[2, 5:35, 32:44] = 0
    ct[2, 5:35, 17:29] = SCLEROTIC
    ct[2, 5:35, 32:44] = SCLEROTIC
    ct[2, 20, 29:32] = SCLEROTIC
    return ct, labels, Volume(ct[::-1].copy(), SPACING)


def test_bands_of_both_bones_in_one_slice_keep_their_own_pixels() -> None:
    """A band's thin ends come from pixels of no other piece, and a pixel is given once: each band goes whole
    to its own bone and the counts are the pixels changed."""
    _, labels, volume = _side_by_side()
    before = labels.copy()
    stored = labels[::-1].copy()
    added = fill_bone_fringes(stored, volume, FEMUR, TIBIA)
    after = stored[::-1]
    assert (after[2, 5:35, 17:29] == FEMUR).all()
    assert (after[2, 5:35, 32:44] == TIBIA).all()
    assert added[FEMUR] + added[TIBIA] == np.count_nonzero(after != before)
    assert added[FEMUR] >= 12 * 30 and added[TIBIA] >= 12 * 30


def test_in_a_view_filled_with_bone_only_the_bands_pieces_are_taken() -> None:
    """Where the femur fills the whole view, the pixels of no piece (here a rim too thin for the opening)
    are not judged as if they were a band: the band is taken, the rim is not."""
    shape = (5, 40, 60)
    ct = np.full(shape, MARROW, dtype=np.int16)
    labels = np.ones(shape, dtype=np.uint8) * FEMUR
    labels[2, 5:35, 20:32] = 0
    ct[2, 5:35, 20:32] = SCLEROTIC  # the band, 6 mm wide
    labels[2, 5:35, 45] = 0
    ct[2, 5:35, 45] = SCLEROTIC  # the rim, one pixel
    stored = labels[::-1].copy()
    added = fill_bone_fringes(stored, Volume(ct[::-1].copy(), SPACING), FEMUR, TIBIA)
    after = stored[::-1]
    assert (after[2, 5:35, 20:32] == FEMUR).all()
    assert not after[2, 5:35, 45].any()
    assert added == {FEMUR: 12 * 30, TIBIA: 0}
