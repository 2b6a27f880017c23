"""Specification of the per-bone segmentation metrics (kneeseg_app.core.metrics).

Grids are anisotropic like a clinical knee CT reconstructed with thick slices:
2.5 mm between slices, 0.7 mm in-plane (spacing in array order z, y, x).

Independent reference: medpy.metric.binary (0.5.x) computes the same quantities with
scipy's EDT over the whole image. Mapping of conventions, ours -> medpy:

  dice, jaccard, precision, recall -> dc, jc, precision, recall (same formulas;
      they differ only when both masks are empty: medpy gives precision = recall = 0,
      we give 1, see the empty-mask table below)
  surface                          -> mask ^ binary_erosion(mask, connectivity 1),
                                      image outside = background (connectivity=1)
  hausdorff_mm                     -> hd(..., voxelspacing, connectivity=1)
  hd95_mm (pooled 95th percentile) -> hd95(...)   (also pooled in medpy)
  assd_mm (pooled mean)            -> assd(...)   (medpy >= 0.5 pools; the older
      mean of the two directed means is asserted to be different, below)
  distances with an empty mask     -> medpy raises; we return inf / 0 (table below)
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from medpy.metric import binary as medpy
from scipy import ndimage

from kneeseg_app.core.errors import GeometryError, KneeSegError, LabelMapError
from kneeseg_app.core.metrics.scores import (
    CONVENTIONS,
    LABELS,
    METRIC_INFO,
    BoneMetrics,
    _distance_method,
    _surface,
    compare_label_volumes,
    compute_metrics,
)
from kneeseg_app.core.volume import Volume

SPACING = (2.5, 0.7, 0.7)
ONE = {1: "bone"}


def ball(
    shape: tuple[int, int, int], centre_mm: tuple[float, float, float], radius_mm: float, spacing=SPACING
) -> np.ndarray:
    """Voxels whose centre lies inside a sphere given in mm."""
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    cz, cy, cx = centre_mm
    sz, sy, sx = spacing
    return (z * sz - cz) ** 2 + (y * sy - cy) ** 2 + (x * sx - cx) ** 2 <= radius_mm**2


def blob_labels(seed: int, shape=(24, 56, 56), touch_border: bool = False) -> np.ndarray:
    """A random 'blobby' label map with labels 1 and 2 (thresholded smoothed noise)."""
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.standard_normal(shape), sigma=(1.2, 3.0, 3.0))
    field /= field.std()
    labels = np.zeros(shape, np.uint8)
    labels[field > 0.6] = 1
    labels[field < -0.8] = 2
    if not touch_border:
        for axis in range(3):
            index = [slice(None)] * 3
            for edge in (0, -1):
                index[axis] = edge
                labels[tuple(index)] = 0
    return labels


def bone(prediction: np.ndarray, reference: np.ndarray, spacing=SPACING) -> BoneMetrics:
    return compute_metrics(prediction.astype(np.uint8), reference.astype(np.uint8), spacing, ONE)["bone"]


# ----- analytic cases ------------------------------------------------------------


def test_identical_masks_agree_perfectly():
    labels = blob_labels(1)
    result = compute_metrics(labels, labels.copy(), SPACING)
    for metrics in result.values():
        assert (metrics.dice, metrics.jaccard, metrics.precision, metrics.recall) == (1.0, 1.0, 1.0, 1.0)
        assert (metrics.hausdorff_mm, metrics.hd95_mm, metrics.assd_mm) == (0.0, 0.0, 0.0)
        assert metrics.volume_diff_ml == 0.0 and metrics.volume_diff_pct == 0.0
        assert metrics.volume_pred_ml > 0


def test_cube_shifted_by_one_slice_has_hausdorff_exactly_the_slice_spacing():
    reference = np.zeros((30, 40, 40), bool)
    reference[5:25, 10:30, 10:30] = True  # 20 slices
    shifted = np.roll(reference, 1, axis=0)
    metrics = bone(shifted, reference)
    assert metrics.hausdorff_mm == 2.5
    assert metrics.dice == pytest.approx(19 / 20, abs=1e-12)  # 19 of 20 slices overlap
    assert metrics.jaccard == pytest.approx(19 / 21, abs=1e-12)
    assert metrics.precision == metrics.recall == pytest.approx(19 / 20, abs=1e-12)
    assert metrics.volume_diff_ml == 0.0


def test_cube_shifted_by_one_column_has_hausdorff_exactly_the_column_spacing():
    reference = np.zeros((30, 40, 40), bool)
    reference[5:25, 10:30, 10:30] = True
    assert bone(np.roll(reference, 1, axis=2), reference).hausdorff_mm == 0.7


@pytest.mark.parametrize("shift_voxels", [(2, 5, -3), (4, 0, 0), (0, 10, 0), (1, 3, 7)])
def test_ball_translated_by_a_vector_has_hausdorff_equal_to_its_length_within_a_voxel(shift_voxels):
    # Each surface voxel's translated copy is a surface voxel of the other ball at exactly
    # |offset|, so the Hausdorff distance is at most |offset|; discretisation can only
    # shorten it, by less than one voxel.
    reference = ball((40, 140, 140), (50.0, 49.0, 49.0), 20.0)
    prediction = np.roll(reference, shift_voxels, axis=(0, 1, 2))
    offset_mm = float(np.linalg.norm(np.multiply(shift_voxels, SPACING)))
    hausdorff = bone(prediction, reference).hausdorff_mm
    assert offset_mm - max(SPACING) <= hausdorff <= offset_mm + 1e-9


@pytest.mark.parametrize(("r_inner", "r_outer"), [(20.0, 30.0), (12.0, 30.0)])
def test_concentric_balls_are_the_radius_difference_apart(r_inner, r_outer):
    # Continuous spheres: every point is exactly r_outer - r_inner from the other sphere,
    # so Hausdorff, HD95 and ASSD all equal it; voxel centres deviate by < one voxel.
    shape = (44, 150, 150)
    inner = ball(shape, (55.0, 52.0, 52.0), r_inner)
    outer = ball(shape, (55.0, 52.0, 52.0), r_outer)
    metrics = bone(inner, outer)
    gap = r_outer - r_inner
    for distance in (metrics.hausdorff_mm, metrics.hd95_mm, metrics.assd_mm):
        assert distance == pytest.approx(gap, abs=max(SPACING))
    assert metrics.assd_mm <= metrics.hd95_mm <= metrics.hausdorff_mm
    assert metrics.precision == 1.0  # the inner ball lies entirely in the outer one
    assert metrics.recall == pytest.approx((r_inner / r_outer) ** 3, rel=0.05)
    assert metrics.dice == pytest.approx(2 * r_inner**3 / (r_inner**3 + r_outer**3), rel=0.05)


def test_volumes_are_in_millilitres_with_the_real_spacing():
    metrics = bone(ball((44, 150, 150), (55.0, 52.0, 52.0), 20.0), ball((44, 150, 150), (55.0, 52.0, 52.0), 30.0))
    assert metrics.volume_pred_ml == pytest.approx(4 / 3 * math.pi * 20.0**3 / 1000, rel=0.02)
    assert metrics.volume_ref_ml == pytest.approx(4 / 3 * math.pi * 30.0**3 / 1000, rel=0.02)
    assert metrics.volume_diff_ml == pytest.approx(metrics.volume_pred_ml - metrics.volume_ref_ml)
    assert metrics.volume_diff_pct == pytest.approx(100 * metrics.volume_diff_ml / metrics.volume_ref_ml)
    assert metrics.volume_diff_ml < 0  # prediction minus reference: under-segmentation is negative


# ----- conventions ---------------------------------------------------------------


def test_surface_uses_the_six_face_neighbourhood():
    cube = np.zeros((5, 5, 5), bool)
    cube[1:4, 1:4, 1:4] = True
    cube[1, 1, 1] = False  # a missing corner touches the centre only diagonally
    padded = np.pad(cube, 1)
    surface = _surface(padded)
    assert not surface[2, 2, 2]  # all 6 face neighbours are bone: interior (26-neighbourhood would say surface)
    assert np.count_nonzero(surface) == 25


def test_surface_equals_medpy_erosion_xor_including_at_the_image_border():
    labels = blob_labels(3, touch_border=True) == 1
    medpy_surface = labels ^ ndimage.binary_erosion(labels, structure=ndimage.generate_binary_structure(3, 1))
    np.testing.assert_array_equal(_surface(np.pad(labels, 1)), medpy_surface)


def test_objects_cut_by_the_image_border_have_a_surface_on_the_border():
    reference = np.ones((10, 12, 12), bool)
    prediction = reference.copy()
    prediction[-1] = False  # last slice missing
    metrics = bone(prediction, reference)
    assert metrics.hausdorff_mm == 2.5  # reference's last slice (image border) is surface


def test_hd95_pools_both_directions_and_assd_is_the_pooled_mean():
    # A small ball sticking out of a big one: the two directed distance sets differ a lot
    # in size and mean, so the pooling conventions give different numbers.
    shape = (30, 120, 125)
    small = ball(shape, (37.5, 40.0, 70.0), 9.0)
    big = ball(shape, (37.5, 40.0, 40.0), 22.0)
    metrics = bone(small, big)
    spacing = dict(voxelspacing=SPACING, connectivity=1)
    pred_to_ref, ref_to_pred = medpy.asd(small, big, **spacing), medpy.asd(big, small, **spacing)
    n_small = np.count_nonzero(_surface(np.pad(small, 1)))
    n_big = np.count_nonzero(_surface(np.pad(big, 1)))
    pooled_mean = (n_small * pred_to_ref + n_big * ref_to_pred) / (n_small + n_big)
    assert metrics.assd_mm == pytest.approx(pooled_mean, rel=1e-9)
    assert abs(metrics.assd_mm - (pred_to_ref + ref_to_pred) / 2) > 3.0  # not the mean of directed means
    assert metrics.hd95_mm == pytest.approx(medpy.hd95(small, big, **spacing), rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
@pytest.mark.parametrize("spacing", [SPACING, (1.25, 0.43, 0.61)])
def test_every_metric_matches_medpy_on_random_blobs(seed, spacing):
    reference = blob_labels(seed, touch_border=seed % 2 == 1)
    prediction = blob_labels(seed + 100, touch_border=seed % 2 == 1)
    ours = compute_metrics(prediction, reference, spacing)
    for label, name in LABELS.items():
        p, r = prediction == label, reference == label
        m = ours[name]
        distance = dict(voxelspacing=spacing, connectivity=1)
        expected = {
            "dice": medpy.dc(p, r),
            "jaccard": medpy.jc(p, r),
            "precision": medpy.precision(p, r),
            "recall": medpy.recall(p, r),
            "hausdorff_mm": medpy.hd(p, r, **distance),
            "hd95_mm": medpy.hd95(p, r, **distance),
            "assd_mm": medpy.assd(p, r, **distance),
            "volume_pred_ml": np.count_nonzero(p) * np.prod(spacing) / 1000,
            "volume_ref_ml": np.count_nonzero(r) * np.prod(spacing) / 1000,
        }
        for key, value in expected.items():
            assert getattr(m, key) == pytest.approx(value, rel=1e-6, abs=1e-9), (name, key)


def test_dense_speckle_uses_the_edt_and_still_matches_medpy():
    rng = np.random.default_rng(7)
    prediction = rng.random((12, 30, 30)) < 0.4
    reference = rng.random((12, 30, 30)) < 0.4
    n_surface = np.count_nonzero(_surface(np.pad(prediction, 1))) + np.count_nonzero(_surface(np.pad(reference, 1)))
    assert _distance_method(n_surface, prediction.size) == "edt"
    metrics = bone(prediction, reference)
    distance = dict(voxelspacing=SPACING, connectivity=1)
    assert metrics.hausdorff_mm == pytest.approx(medpy.hd(prediction, reference, **distance), rel=1e-9)
    assert metrics.hd95_mm == pytest.approx(medpy.hd95(prediction, reference, **distance), rel=1e-9)
    assert metrics.assd_mm == pytest.approx(medpy.assd(prediction, reference, **distance), rel=1e-9)


def test_ordinary_bone_surfaces_use_the_kdtree():
    assert _distance_method(n_surface_points=250_000, n_voxels=11_000_000) == "kdtree"


def test_cropping_to_the_bones_does_not_change_any_value():
    small = blob_labels(5, shape=(20, 40, 40))
    big_pred = np.zeros((60, 160, 170), np.uint8)
    big_ref = np.zeros_like(big_pred)
    big_pred[30:50, 100:140, 7:47] = small
    big_ref[30:50, 100:140, 7:47] = blob_labels(6, shape=(20, 40, 40))
    in_small = compute_metrics(small, blob_labels(6, shape=(20, 40, 40)), SPACING)
    in_big = compute_metrics(big_pred, big_ref, SPACING)
    assert in_big == in_small


# ----- empty masks: every cell of the table ---------------------------------------

INF = math.inf
EMPTY_TABLE = {
    # metric:          both empty, prediction empty (missed), reference empty (invented)
    "dice": (1.0, 0.0, 0.0),
    "jaccard": (1.0, 0.0, 0.0),
    "precision": (1.0, 0.0, 0.0),
    "recall": (1.0, 0.0, 0.0),
    "hausdorff_mm": (0.0, INF, INF),
    "hd95_mm": (0.0, INF, INF),
    "assd_mm": (0.0, INF, INF),
    "volume_pred_ml": (0.0, 0.0, "bone"),
    "volume_ref_ml": (0.0, "bone", 0.0),
    "volume_diff_ml": (0.0, "-bone", "bone"),
    "volume_diff_pct": (0.0, -100.0, INF),
}


@pytest.mark.parametrize("metric", list(EMPTY_TABLE))
@pytest.mark.parametrize("case", ["both empty", "prediction empty", "reference empty"])
def test_empty_mask_conventions(case, metric):
    some_bone = np.zeros((8, 10, 10), bool)
    some_bone[2:5, 3:7, 3:7] = True  # 48 voxels
    bone_ml = 48 * np.prod(SPACING) / 1000
    nothing = np.zeros_like(some_bone)
    prediction, reference = {
        "both empty": (nothing, nothing),
        "prediction empty": (nothing, some_bone),
        "reference empty": (some_bone, nothing),
    }[case]
    column = ["both empty", "prediction empty", "reference empty"].index(case)
    expected = EMPTY_TABLE[metric][column]
    expected = {"bone": bone_ml, "-bone": -bone_ml}.get(expected, expected)  # type: ignore[arg-type]
    assert getattr(bone(prediction, reference), metric) == pytest.approx(expected)


def test_metrics_never_hold_nan_even_for_empty_masks():
    nothing = np.zeros((4, 4, 4), np.uint8)
    for metrics in compute_metrics(nothing, nothing, SPACING).values():
        assert not any(math.isnan(v) for v in metrics.as_dict().values())


# ----- labels, inputs, errors -------------------------------------------------------


def test_each_bone_is_measured_alone_and_other_labels_are_background():
    reference = blob_labels(8)
    prediction = blob_labels(9)
    plain = compute_metrics(prediction, reference, SPACING)
    noisy = prediction.copy()
    noisy[noisy == 0] = 3  # an unrelated label everywhere else
    assert compute_metrics(noisy, reference, SPACING) == plain
    femur_only = np.where(prediction == 1, 1, 0).astype(np.uint8)
    assert compute_metrics(femur_only, reference, SPACING)["femur"] == plain["femur"]


def test_results_are_keyed_by_bone_name_in_label_order():
    labels = blob_labels(4)
    assert list(compute_metrics(labels, labels, SPACING)) == ["femur", "tibia"]
    custom = compute_metrics(labels, labels, SPACING, {2: "tibia", 1: "femur", 5: "patella"})
    assert list(custom) == ["tibia", "femur", "patella"]
    assert custom["patella"].dice == 1.0  # absent in both


def test_boolean_and_wide_integer_maps_are_accepted():
    labels = blob_labels(10)
    expected = compute_metrics(labels, labels, SPACING)["femur"]
    assert compute_metrics(labels == 1, labels == 1, SPACING)["femur"] == expected
    assert compute_metrics(labels.astype(np.int32), labels.astype(np.uint16), SPACING)["femur"] == expected


def test_different_sizes_raise_a_label_map_error_in_one_sentence():
    with pytest.raises(LabelMapError) as error:
        compute_metrics(np.zeros((4, 5, 6), np.uint8), np.zeros((4, 5, 7), np.uint8), SPACING)
    assert isinstance(error.value, KneeSegError)
    message = str(error.value)
    assert "6 x 5 x 4" in message and "7 x 5 x 4" in message
    assert message.endswith(".") and message.count(". ") == 0


def test_float_label_maps_are_refused():
    with pytest.raises(LabelMapError, match="integer labels"):
        compute_metrics(np.zeros((4, 4, 4), np.float32), np.zeros((4, 4, 4), np.uint8), SPACING)


@pytest.mark.parametrize("spacing", [(1.0, 1.0), (0.0, 1.0, 1.0), (1.0, -1.0, 1.0), (1.0, math.nan, 1.0)])
def test_invalid_spacing_raises_a_geometry_error(spacing):
    with pytest.raises(GeometryError):
        compute_metrics(np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 4), np.uint8), spacing)


def test_label_volumes_on_different_grids_are_refused():
    labels = blob_labels(11)
    reference = Volume(labels, SPACING)
    same_grid = reference.with_array(labels.copy())
    assert compare_label_volumes(same_grid, reference) == compute_metrics(labels, labels, SPACING)
    moved = Volume(labels.copy(), SPACING, origin_xyz=(5.0, 0.0, 0.0))
    with pytest.raises(LabelMapError, match="same voxel grid"):
        compare_label_volumes(moved, reference)


# ----- presentation -------------------------------------------------------------------


def test_as_dict_lists_every_metric_in_metric_info_order():
    labels = blob_labels(12)
    values = compute_metrics(labels, blob_labels(13), SPACING)["tibia"].as_dict()
    assert list(values) == list(METRIC_INFO)
    assert all(type(v) is float for v in values.values())


def test_metric_info_gives_name_unit_and_direction():
    name, unit, higher_is_better = METRIC_INFO["hd95_mm"]
    assert (name, unit, higher_is_better) == ("HD95", "mm", False)
    assert METRIC_INFO["dice"].higher_is_better is True
    assert METRIC_INFO["volume_diff_pct"].unit == "%"


def test_conventions_text_states_each_choice_for_users():
    text = CONVENTIONS.lower()
    for phrase in ("six faces", "95th percentile", "pooled", "absent from both", "infinite", "ml", "quartiles"):
        assert phrase in text
