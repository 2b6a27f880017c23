"""The femoral condyle's lowest slab, dense but left unlabelled by the network on thick slices, is given to the
femur: one slab under a femur section, no more; a bone's blurred rim, bone beside the femur, islands near
metal, faint or tiny islands stay as they are."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.inference.bone_layout import apply_bone_layout
from kneeseg_app.core.inference.condyle_bottom import INSIDE_SHARE, MIN_AREA_MM2, fill_condyle_bottoms
from kneeseg_app.core.inference.cut_bone import DENSE_HU, METAL_MARGIN_MM
from kneeseg_app.core.inference.densities import METAL_HU
from kneeseg_app.core.volume import Volume

FEMUR, TIBIA = 1, 2
SHAPE = (24, 70, 130)  # superior first
SPACING = (5.0, 0.5, 0.5)
SHAFT_END = 6  # the femur's shaft above, its condyles from here
LAST = 12  # the femur's last slice; the slab under it is LAST + 1
MEDIAL, LATERAL = (30, 45), (30, 85)
SOFT, MARROW, SLAB = 40, 300, 500


def _disk(centre: tuple[float, float], radius: float) -> np.ndarray:
    yy, xx = np.indices(SHAPE[1:])
    return ((yy - centre[0]) ** 2 + (xx - centre[1]) ** 2) <= radius**2


def _knee() -> tuple[np.ndarray, np.ndarray]:
    """CT and true labels, superior first: the femur's shaft, two condyles down to ``LAST``, each one slab (``LAST`` + 1) of
    partial-volume bone narrower than its section above, then the joint space, then the plateau."""
    ct = np.full(SHAPE, SOFT, dtype=np.int16)
    truth = np.zeros(SHAPE, dtype=np.uint8)
    for z in range(LAST + 1):
        if z < SHAFT_END:
            truth[z][_disk((30, 65), 8)] = FEMUR
        else:
            for centre in (MEDIAL, LATERAL):
                truth[z][_disk(centre, 14)] = FEMUR
    for centre in (MEDIAL, LATERAL):
        truth[LAST + 1][_disk(centre, 9)] = FEMUR
    for z in range(LAST + 3, SHAPE[0]):
        truth[z][_disk((30, 65), 30 if z < LAST + 7 else 12)] = TIBIA  # the plateau, then the shaft
    ct[truth > 0] = MARROW
    ct[LAST + 1][truth[LAST + 1] == FEMUR] = SLAB  # cortex through part of the slab: brighter than marrow
    return ct, truth


def _volume(ct: np.ndarray) -> Volume:
    """Stored inferior first, as an identity direction means (index 0 is the most inferior slice)."""
    return Volume(ct[::-1].copy(), SPACING)


def _filled(network: np.ndarray, ct: np.ndarray) -> tuple[np.ndarray, int]:
    labels = network[::-1].copy()
    added = fill_condyle_bottoms(labels, _volume(ct), FEMUR)
    return labels[::-1], added


def _missing_medial_slab() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The network's labels: the medial condyle's slab unlabelled, the lateral one labelled (stress knee-90403)."""
    ct, truth = _knee()
    network = truth.copy()
    network[LAST + 1][_disk(MEDIAL, 9)] = 0
    return ct, truth, network


def test_a_condyles_unlabelled_last_slab_is_given_to_the_femur() -> None:
    ct, truth, network = _missing_medial_slab()
    labels, added = _filled(network, ct)
    assert (labels == truth).all()
    assert added == np.count_nonzero(_disk(MEDIAL, 9))


def test_a_slab_whose_rings_enclose_fainter_bone_is_taken_whole() -> None:
    ct, truth, network = _missing_medial_slab()
    ct[LAST + 1][_disk(MEDIAL, 5)] = SOFT  # a cortex ring around faint partial-volume marrow
    labels, _ = _filled(network, ct)
    assert (labels == truth).all()


def test_only_one_slab_is_added_under_the_networks_femur() -> None:
    """A tibia the network missed lies under the slab: judged against the labels the network gave the slice
    above (not the slab just added), it is not taken."""
    ct, truth, network = _missing_medial_slab()
    network[LAST + 3 :] = 0
    ct[LAST + 2][_disk(MEDIAL, 8)] = MARROW  # bone right under the slab, then the whole plateau
    labels, _ = _filled(network, ct)
    assert (labels[LAST + 1] == truth[LAST + 1]).all()
    assert not labels[LAST + 2 :].any()


def test_a_bones_blurred_rim_touching_its_label_is_not_taken() -> None:
    ct, _, network = _missing_medial_slab()
    network[LAST + 1][_disk(MEDIAL, 9)] = FEMUR
    ct[LAST + 1][_disk(MEDIAL, 11)] = SLAB  # dense for two pixels beyond the label, under the femur above
    before = network.copy()
    labels, added = _filled(network, ct)
    assert added == 0 and (labels == before).all()


def test_an_island_touching_the_tibias_label_is_not_taken() -> None:
    ct, _, network = _missing_medial_slab()
    network[LAST + 1][_disk((30, 56), 2)] = TIBIA  # a tibial spine the network labelled, against the slab
    ct[LAST + 1][_disk((30, 56), 2)] = SLAB
    _, added = _filled(network, ct)
    assert added == 0


def test_an_island_partly_outside_the_femur_above_is_not_taken() -> None:
    ct, _, network = _missing_medial_slab()
    island = _disk((30, MEDIAL[1] + 14), 9)  # centred on the condyle's edge: half of it outside
    assert np.count_nonzero(island & _disk(MEDIAL, 14)) < INSIDE_SHARE * np.count_nonzero(island)
    ct[LAST + 1][_disk(MEDIAL, 9)] = SOFT
    ct[LAST + 1][island] = SLAB
    _, added = _filled(network, ct)
    assert added == 0


def test_an_island_running_out_of_the_femurs_box_is_judged_whole() -> None:
    """A thin dense tail joins the slab to a wide dense region far from the femur: looked at only near the
    femur the island would lie under it, as a whole it does not."""
    ct, _, network = _missing_medial_slab()
    ct[LAST + 1][MEDIAL[0], : MEDIAL[1]] = SLAB  # the tail, one pixel wide, to the image's edge
    ct[LAST + 1][MEDIAL[0] :, :8] = SLAB  # and on, down to the image's corner
    _, added = _filled(network, ct)
    assert added == 0


def test_faint_tissue_under_the_femur_is_not_taken() -> None:
    ct, _, network = _missing_medial_slab()
    ct[LAST + 1][_disk(MEDIAL, 9)] = int(DENSE_HU) - 1
    _, added = _filled(network, ct)
    assert added == 0


def test_an_island_smaller_than_the_least_area_is_not_taken() -> None:
    """A speck under the lateral condyle, beside its labelled slab, in the slice whose medial slab is taken."""
    ct, truth, network = _missing_medial_slab()
    speck = _disk((LATERAL[0], LATERAL[1] + 12), 1.5)
    assert np.count_nonzero(speck) * SPACING[1] * SPACING[2] < MIN_AREA_MM2
    ct[LAST + 1][speck] = SLAB
    labels, added = _filled(network, ct)
    assert added == np.count_nonzero(_disk(MEDIAL, 9))
    assert (labels == truth).all()


@pytest.mark.parametrize("distance_mm", [METAL_MARGIN_MM - 2.0, METAL_MARGIN_MM + 4.0])
def test_no_pixel_near_metal_is_taken(distance_mm: float) -> None:
    """Streaks around an implant are dense: no pixel within the metal margin is taken."""
    ct, truth, network = _missing_medial_slab()
    metal_x = int(round(MEDIAL[1] - 9 - distance_mm / SPACING[2]))
    assert metal_x >= 0
    ct[LAST + 1][MEDIAL[0], metal_x] = int(METAL_HU) + 500
    labels, _ = _filled(network, ct)
    yy, xx = np.indices(SHAPE[1:])
    near = np.hypot(yy - MEDIAL[0], xx - metal_x) * SPACING[2] <= METAL_MARGIN_MM
    slab = _disk(MEDIAL, 9)
    assert not (labels[LAST + 1][near] == FEMUR).any()
    assert (labels[LAST + 1][slab & ~near] == FEMUR).all()
    assert (near & slab).any() == (distance_mm < METAL_MARGIN_MM)


def test_a_scan_stored_superior_first_gives_the_same_labels() -> None:
    ct, truth, network = _missing_medial_slab()
    flipped = Volume(ct.copy(), SPACING, direction=np.diag([1.0, 1.0, -1.0]))  # index 0 is superior
    labels = network.copy()
    fill_condyle_bottoms(labels, flipped, FEMUR)
    assert (labels == truth).all()


def test_the_anatomy_rule_gives_the_femur_its_last_slab() -> None:
    """Through the whole rule: a knee whose femur and tibia are apart, the medial slab unlabelled."""
    ct, truth, network = _missing_medial_slab()
    ct = np.where(np.indices(SHAPE)[1] < 2, -1000, ct).astype(np.int16)  # air above the leg's skin
    pred = network[::-1].copy()
    result = apply_bone_layout(pred, _volume(ct), FEMUR, TIBIA)
    assert any(joint.is_knee for joint in result.joints)
    assert (pred[::-1] == truth).all()
    assert result.cut_filled[FEMUR] >= np.count_nonzero(_disk(MEDIAL, 9))
