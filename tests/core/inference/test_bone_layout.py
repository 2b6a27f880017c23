"""The anatomy rule keeps the bones in the leg, labels them by leg and joint, and never lets a
false piece on the table or in the air win over them (where the largest-component rule does)."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from kneeseg_app.core.inference.bone_layout import (
    apply_bone_layout,
    group_legs,
    joint_split,
    superior_axis,
    swapped_slices,
)
from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
from kneeseg_app.core.inference.joint_slices import dominant_waist, waist_depths
from kneeseg_app.core.inference.postprocess import apply_postprocessing
from kneeseg_app.core.model.package import load_model_package
from kneeseg_app.core.volume import Volume

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from onnx_factory import write_model_package  # noqa: E402

FEMUR, TIBIA = 1, 2
SHAPE = (40, 64, 96)  # 2 mm slices, 2 mm pixels: z 0 is inferior (identity direction)
JOINT = 20


def _leg(ct: np.ndarray, labels: np.ndarray, x: int, gap: int = 1) -> None:
    """A leg around column ``x``: soft tissue, a femur above and a tibia below the joint, both
    wider within 16 mm of it (condyles and plateau: a knee's bones flare toward the joint)."""
    zz, yy, xx = np.indices(SHAPE)
    ct[((yy - 30) ** 2 + (xx - x) ** 2) <= 14**2] = 40
    radius = np.where(np.abs(zz - JOINT) <= 8, 10, 7)
    bone = ((yy - 30) ** 2 + (xx - x) ** 2) <= radius**2
    femur = bone & (zz >= JOINT + gap)
    tibia = bone & (zz < JOINT)
    ct[femur | tibia] = 700
    labels[femur], labels[tibia] = FEMUR, TIBIA


def _scene(legs: tuple[int, ...] = (30,), gap: int = 1) -> tuple[Volume, np.ndarray]:
    ct = np.full(SHAPE, -1000, dtype=np.int16)
    labels = np.zeros(SHAPE, dtype=np.uint8)
    ct[:, 50:54, :] = -900  # table foam core
    ct[:, 50, :] = ct[:, 53, :] = 300  # its dense carbon shells
    for x in legs:
        _leg(ct, labels, x, gap)
    return Volume(ct, (2.0, 2.0, 2.0)), labels


def _dice(pred: np.ndarray, ref: np.ndarray, label: int) -> float:
    a, b = pred == label, ref == label
    return 2.0 * (a & b).sum() / (a.sum() + b.sum())


def test_a_dense_blob_on_the_table_larger_than_the_femur_never_wins() -> None:
    ct, truth = _scene()
    pred = truth.copy()
    ct.array[:, 50:54, 40:90] = 700  # dense, but on the table, outside the body
    pred[:, 50:54, 40:90] = FEMUR
    largest = pred.copy()
    apply_postprocessing(largest, [FEMUR, TIBIA])
    assert _dice(largest, truth, FEMUR) == 0.0  # the old rule keeps the blob, deletes the femur
    result = apply_bone_layout(pred, ct, FEMUR, TIBIA)
    assert (pred == truth).all()
    assert result.removed[FEMUR] == 4 * 50 * SHAPE[0]


def test_a_strip_of_air_along_the_image_edge_is_dropped() -> None:
    ct, truth = _scene()
    pred = truth.copy()
    pred[:, :, :6] = FEMUR  # larger than the femur, in the air
    apply_bone_layout(pred, ct, FEMUR, TIBIA)
    assert (pred == truth).all()


def test_bands_swapped_next_to_the_joint_return_to_their_bone() -> None:
    ct, truth = _scene()
    pred = truth.copy()
    above, below = pred[JOINT + 1 : JOINT + 6], pred[JOINT - 5 : JOINT]
    above[above == FEMUR] = TIBIA  # condyles called tibia
    below[below == TIBIA] = FEMUR  # plateau called femur
    largest = pred.copy()
    apply_postprocessing(largest, [FEMUR, TIBIA])
    assert _dice(largest, truth, FEMUR) < 0.9  # the old rule cuts the bands out
    result = apply_bone_layout(pred, ct, FEMUR, TIBIA)
    assert (pred == truth).all()
    assert result.relabelled > 0 and result.legs == 1


def test_the_lower_of_two_stacked_bones_is_the_tibia_even_when_mostly_called_femur() -> None:
    ct, truth = _scene()
    pred = truth.copy()
    lower = pred[: JOINT - 4]
    lower[lower == TIBIA] = FEMUR  # the network calls most of the tibia femur
    largest = pred.copy()
    apply_postprocessing(largest, [FEMUR, TIBIA])
    assert _dice(largest, truth, TIBIA) < 0.5
    apply_bone_layout(pred, ct, FEMUR, TIBIA)
    assert (pred == truth).all()


def test_a_leg_called_femur_only_shows_no_knee_joint_and_is_discarded_with_the_reason() -> None:
    ct, truth = _scene(gap=6)
    pred = np.where(truth > 0, FEMUR, 0).astype(np.uint8)  # two stacked pieces, no tibia label at all
    result = apply_bone_layout(pred, ct, FEMUR, TIBIA)
    assert not pred.any()
    assert result.no_knee == "a femur without a tibia (no knee joint)"
    assert result.removed[FEMUR] == int((truth > 0).sum())


def test_a_shaft_split_by_a_label_change_is_no_joint() -> None:
    """A thigh whose femoral shaft the network calls femur above and tibia below: stacked, touching,
    but the "tibia" does not widen toward the "joint" as a plateau does (160 mm of shaft: the
    tibia-like part stays long enough to show it)."""
    shape = (80, 64, 96)
    ct = np.full(shape, -1000, dtype=np.int16)
    zz, yy, xx = np.indices(shape)
    ct[((yy - 30) ** 2 + (xx - 30) ** 2) <= 14**2] = 40
    shaft = ((yy - 30) ** 2 + (xx - 30) ** 2) <= 7**2
    ct[shaft] = 700
    pred = np.where(shaft, np.where(zz >= 40, FEMUR, TIBIA), 0).astype(np.uint8)
    result = apply_bone_layout(pred, Volume(ct, (2.0, 2.0, 2.0)), FEMUR, TIBIA)
    assert not pred.any()
    assert "does not widen toward the joint" in result.no_knee
    assert result.joints[0].tibia_flare == pytest.approx(1.0)


def test_whole_slices_swapped_in_bones_that_touch_are_fixed_at_the_narrowing() -> None:
    ct, truth = _scene(gap=0)
    zz, yy, xx = np.indices(SHAPE)
    waist = (np.abs(zz - JOINT) <= 1) & (((yy - 30) ** 2 + (xx - 30) ** 2) > 4**2)
    ct.array[waist & (truth > 0)] = 40  # the joint: the bones touch only in a narrow waist
    truth[waist] = 0
    pred = truth.copy()
    band = pred[JOINT - 8 : JOINT - 1]
    band[band == TIBIA] = FEMUR
    apply_bone_layout(pred, ct, FEMUR, TIBIA)
    assert _dice(pred, truth, TIBIA) > 0.97 and _dice(pred, truth, FEMUR) > 0.97


def test_two_legs_are_cleaned_each_by_its_own_joint() -> None:
    ct, truth = _scene(legs=(22, 72))
    pred = truth.copy()
    right = pred[JOINT - 4 : JOINT, :, :48]
    right[right == TIBIA] = FEMUR  # one leg disagrees with the other in these slices
    result = apply_bone_layout(pred, ct, FEMUR, TIBIA)
    assert result.legs == 2
    assert (pred == truth).all()


def test_femur_is_superior_in_patient_space_whatever_the_array_order() -> None:
    ct, truth = _scene()
    flipped = Volume(ct.array[::-1].copy(), ct.spacing_zyx, direction=np.diag([1.0, 1.0, -1.0]))
    pred = truth[::-1].copy()
    band = pred[SHAPE[0] - JOINT - 5 : SHAPE[0] - JOINT]  # condyles (now low indices' side) called tibia
    band[band == FEMUR] = TIBIA
    apply_bone_layout(pred, flipped, FEMUR, TIBIA)
    assert (pred == truth[::-1]).all()
    assert superior_axis(flipped.direction) == (0, -1.0)


def test_dense_rods_in_a_water_block_beside_the_leg_are_no_second_leg() -> None:
    """A QCT calibration phantom: water-like block (inside 'the body' by density) with dense rods."""
    ct, truth = _scene()
    ct.array[:, 40:50, 70:92] = 0  # the block
    ct.array[:, 43:47, 74:78] = ct.array[:, 43:47, 84:88] = 1200  # its rods
    pred = truth.copy()
    pred[JOINT:, 43:47, 74:78] = pred[JOINT:, 43:47, 84:88] = FEMUR
    pred[:JOINT, 43:47, 74:78] = pred[:JOINT, 43:47, 84:88] = TIBIA
    result = apply_bone_layout(pred, ct, FEMUR, TIBIA)
    assert (pred == truth).all() and result.legs == 1


def test_soft_tissue_called_bone_is_dropped_and_nothing_left_is_fine() -> None:
    ct, truth = _scene()
    pred = np.zeros_like(truth)
    pred[5:15, 25:35, 25:30] = TIBIA
    ct.array[5:15, 25:35, 25:30] = 40  # muscle
    result = apply_bone_layout(pred, ct, FEMUR, TIBIA)
    assert not pred.any() and result.legs == 0
    assert apply_bone_layout(pred, ct, FEMUR, TIBIA).removed == {FEMUR: 0, TIBIA: 0}


@pytest.mark.parametrize(
    ("femur", "tibia", "expected"),
    [([90, 10, 0], [0, 5, 80], 2), ([0, 0], [50, 60], 0), ([50, 60], [0, 0], 2), ([60, 10], [20, 90], 1)],
)
def test_joint_split_disagrees_least_with_the_labels(femur: list[int], tibia: list[int], expected: int) -> None:
    assert joint_split(np.array(femur), np.array(tibia)) == expected


def test_swapped_slices_are_the_pure_ones_on_the_wrong_side_of_the_narrowing() -> None:
    area = np.array([30, 30, 40, 50, 60, 20, 60, 70, 70, 60])  # inferior to superior, joint at 5
    femur = np.array([0, 0, 0, 50, 60, 10, 60, 70, 70, 60])  # two plateau slices called femur
    to_femur, to_tibia = swapped_slices(femur, area - femur, slice_mm=2.0)
    assert np.flatnonzero(to_tibia).tolist() == [3, 4] and not to_femur.any()


def test_a_band_of_shaft_called_the_other_bone_far_from_the_joint_is_swapped_too() -> None:
    """Seen on an independent phantom (flexed, 3 mm slices): 20 mm of tibial shaft 45 mm below the joint
    called femur; the largest-component clean-up then dropped it and the shaft below it."""
    shaft, plateau, condyles = [20] * 20, [60, 60, 50], [50, 60, 70, 70, 40, 30, 30, 30]
    area = np.array(shaft + plateau + [20] + condyles)  # inferior to superior, joint at the narrowing (23)
    femur = np.array([0] * 8 + [20] * 7 + [0] * 5 + [0, 0, 0] + [0] + condyles)
    to_femur, to_tibia = swapped_slices(femur, area - femur, slice_mm=3.0)
    assert np.flatnonzero(to_tibia).tolist() == list(range(8, 15)) and not to_femur.any()


def test_a_long_band_of_tibia_called_femur_does_not_move_the_joint_off_the_waist() -> None:
    """Seen on a hip-to-ankle phantom (5 mm slices, grade 3 OA): 125 mm of proximal tibia called femur
    under a plateau labelled right. The labels' least-disagreement change lies at the band's bottom,
    far from the joint; the joint is the waist between plateau and condyles, and the band is tibia."""
    shaft = [20] * 10
    band = list(range(20, 45, 1))  # the proximal shaft widening to the metaphysis: called femur
    plateau, waist, condyles, femoral_shaft = [60, 62, 60], [25], [65, 70, 70, 60], [30] * 15
    area = np.array(shaft + band + plateau + waist + condyles + femoral_shaft)  # inferior to superior
    femur = np.array([0] * 10 + band + [0, 0, 0] + [0] + condyles + femoral_shaft)
    joint = len(shaft) + len(band) + len(plateau)
    to_femur, to_tibia = swapped_slices(femur, area - femur, slice_mm=5.0)
    assert not to_femur.any()  # the plateau stays tibia
    assert np.flatnonzero(to_tibia).tolist() == list(range(10, 10 + len(band)))
    assert dominant_waist(np.convolve(area.astype(float), [0.25, 0.5, 0.25], mode="same"), 5.0) == joint


def test_no_waist_is_dominant_along_a_bone_of_slowly_changing_width() -> None:
    """A shaft's narrowings are shallow and many: none overrides where the labels change."""
    rng = np.random.default_rng(0)
    area = 40 + rng.integers(-3, 4, size=80).astype(float)
    assert dominant_waist(area, 2.0) is None
    assert waist_depths(np.array([10.0, 50, 20, 60, 10]), 1.0).tolist() == [0.0, 0.0, 30.0, 0.0, 0.0]


def test_metal_called_bone_is_unlabelled_and_the_bone_around_it_kept() -> None:
    """A knee replacement's femoral component (3071 HU, the scanner's ceiling) the network called femur."""
    ct, truth = _scene()
    component = np.zeros(SHAPE, dtype=bool)
    component[JOINT + 1 : JOINT + 4, 24:37, 24:37] = True
    ct.array[component] = 3071
    truth[component] = 0  # metal is no bone
    pred = truth.copy()
    pred[component] = FEMUR
    result = apply_bone_layout(pred, ct, FEMUR, TIBIA)
    assert (pred == truth).all()
    assert result.removed[FEMUR] == int(component.sum())


def test_two_femurs_joined_through_a_pelvis_called_femur_are_two_legs_with_a_knee_each() -> None:
    """A scan of both legs up to the hips: the network called the pubic bones femur, so both femurs are one
    piece, centred between the legs. Cut between the legs, each leg has its femur above its tibia; as one
    piece, the legs were a femur pair without a tibia and two tibias without a femur, and nothing was kept."""
    ct, truth = _scene(legs=(22, 72))
    pred = truth.copy()
    pubis = np.zeros(SHAPE, dtype=bool)
    pubis[36:40, 26:34, 22:73] = True
    ct.array[pubis] = 700
    pred[pubis] = FEMUR
    result = apply_bone_layout(pred, ct, FEMUR, TIBIA)
    assert result.legs == 2
    assert all(joint.is_knee for joint in result.joints)
    assert (pred[truth == FEMUR] == FEMUR).all() and (pred[truth == TIBIA] == TIBIA).all()


def test_legs_are_grouped_by_left_right_position() -> None:
    from kneeseg_app.core.inference.bone_layout import Piece

    pieces = [Piece(i, 100, 500.0, 1.0, (x, 0.0, z), 50) for i, (x, z) in enumerate([(-90, 0), (-80, -50), (85, 5)])]
    assert [[p.index for p in leg] for leg in group_legs(pieces)] == [[0, 1], [2]]


def test_the_engine_applies_the_rule_the_package_asks_for(tmp_path: Path) -> None:
    """Threshold network: 300-900 HU is femur, above 900 tibia; a dense table blob is 'femur' too."""
    ct, truth = _scene()
    ct.array[truth == TIBIA] = 1200
    ct.array[:, 48:56, 20:95] = 500
    by_rule = {}
    for rule in ("largest", "anatomy"):
        post = {"largest_component": [1, 2], "rule": rule}
        package = load_model_package(write_model_package(tmp_path / rule, postprocessing=post))
        by_rule[rule] = Segmenter(package, SegmentOptions(threads=1)).run(ct).labels.array
    assert _dice(by_rule["largest"], truth, FEMUR) < 0.5
    assert _dice(by_rule["anatomy"], truth, FEMUR) > 0.9 and _dice(by_rule["anatomy"], truth, TIBIA) > 0.9


def test_a_femur_parted_at_its_thin_shaft_leaves_the_closed_knee_judged_slice_by_slice() -> None:
    """A long scan: the split's erosion parts the femur at a thin mid-shaft before it parts a closed knee.
    The part still holding femur and tibia keeps both (before, it was given one bone: no tibia left)."""
    shape = (60, 64, 64)
    zz, yy, xx = np.indices(shape)
    r2 = (yy - 30) ** 2 + (xx - 30) ** 2
    ct = np.full(shape, -1000, dtype=np.int16)
    ct[r2 <= 16**2] = 40
    radius = np.where(np.abs(zz - JOINT) <= 8, 10, 7)
    radius = np.where((zz >= 44) & (zz <= 46), 1, radius)  # a thin mid-shaft
    bone = r2 <= radius**2
    truth = np.zeros(shape, dtype=np.uint8)
    truth[bone & (zz >= JOINT)] = FEMUR
    truth[bone & (zz < JOINT)] = TIBIA
    ct[bone] = 700
    waist = (np.abs(zz - JOINT) <= 1) & (r2 > 4**2)  # condyles on the plateau: a contact too wide to erode open
    ct[waist & bone] = 40
    truth[waist] = 0
    volume = Volume(ct, (2.0, 2.0, 2.0))
    pred = truth.copy()
    result = apply_bone_layout(pred, volume, FEMUR, TIBIA)
    assert result.no_knee == ""
    assert _dice(pred, truth, FEMUR) > 0.97 and _dice(pred, truth, TIBIA) > 0.97


def test_two_legs_decided_in_threads_get_the_labels_they_get_one_after_the_other() -> None:
    """The engine decides the legs (and searches slabs for cut bone) in its threads: the labels, the
    counts and the joints must be those of the serial rule, with legs that each need work (a swapped
    band in one, bones touching at a waist in the other)."""
    ct, truth = _scene(legs=(22, 72), gap=0)
    zz, yy, xx = np.indices(SHAPE)
    waist = (np.abs(zz - JOINT) <= 1) & (((yy - 30) ** 2 + (xx - 72) ** 2) > 4**2)
    ct.array[waist & (truth > 0)] = 40
    truth[waist] = 0
    pred = truth.copy()
    band = pred[JOINT - 8 : JOINT - 1, :, :48]
    band[band == TIBIA] = FEMUR
    serial, threaded = pred.copy(), pred.copy()
    expected = apply_bone_layout(serial, ct, FEMUR, TIBIA)
    with ThreadPoolExecutor(2) as pool:
        result = apply_bone_layout(threaded, ct, FEMUR, TIBIA, pool=pool)
    assert result.legs == expected.legs == 2
    assert result == expected
    np.testing.assert_array_equal(threaded, serial)
    assert _dice(threaded, truth, FEMUR) > 0.97 and _dice(threaded, truth, TIBIA) > 0.97
