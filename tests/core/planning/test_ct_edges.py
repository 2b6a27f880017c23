"""Sizes below the voxel: each end of a size moved to the bone's half-maximum edge in the CT.

The bone here is a cylinder along z of known radius, rendered as a scanner would: partial volume
over a sub-voxel edge width, noise; its label map is the voxels whose centres lie inside, so
the label's extent is off by up to about a voxel (0.7 mm pixels), as on a real segmentation.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from kneeseg_app.core.anatomy import BoneFrame, mask_points
from kneeseg_app.core.anatomy.extent import surface_extent
from kneeseg_app.core.phantom.truth import phantom_truth
from kneeseg_app.core.planning import plan_labels
from kneeseg_app.core.planning.ct_edges import cortical_hu, size_from_ct, sizes_from_ct
from kneeseg_app.core.planning.provenance import measures_plan
from kneeseg_app.core.volume import Volume

SPACING = (1.0, 0.7, 0.7)
SHAPE = (12, 90, 110)
# the cylinder's wall lies 0.02 mm beyond the voxel centres x = 5.6 and 55.3 mm, so the label's
# boundary (half-way to the next, outside centre) overshoots by 0.33 mm at each end
RADIUS = 24.87
CENTRE_X = 30.45
SOFT_HU, BONE_HU = 40.0, 1500.0


def _cylinder(centre_x: float, radius: float, hu: float, width_mm: float):
    """Column (x) positions, the signed distance to the cylinder's wall, and its partial-volume share."""
    z, y, x = np.meshgrid(*(np.arange(n) * s for n, s in zip(SHAPE, SPACING)), indexing="ij")
    centre_y = 0.7 * 45
    sdf = np.hypot(x - centre_x, y - centre_y) - radius
    return sdf, np.clip(0.5 - sdf / width_mm, 0.0, 1.0) * (hu - SOFT_HU)


def _scan(width_mm: float = 0.9, noise_hu: float = 20.0, extra=None, bone_hu: float = BONE_HU):
    """CT (HU) and label map of the cylinder (and optionally a second, touching 'bone')."""
    sdf, share = _cylinder(CENTRE_X, RADIUS, bone_hu, width_mm)
    hu = SOFT_HU + share
    if extra is not None:
        hu = hu + _cylinder(*extra, BONE_HU, width_mm)[1]
    hu += np.random.default_rng(3).normal(0.0, noise_hu, hu.shape)
    ct = Volume(hu.astype(np.int16), SPACING, origin_xyz=(-20.0, 5.0, -3.0))
    return ct, (sdf < 0)


def _ml_extent(ct: Volume, mask: np.ndarray):
    surface, _ = mask_points(mask, ct.index_to_lps)
    frame = BoneFrame.from_axes(surface.mean(axis=0), np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]))
    middle = frame.local(surface)
    return surface_extent(middle[np.abs(middle[:, 2]) < 3.0], 0, frame)


@pytest.mark.parametrize("width_mm", [0.7, 1.2])
def test_a_size_refined_in_the_ct_is_within_0_2_mm_where_the_label_extent_is_off_by_most_of_a_voxel(
    width_mm: float,
) -> None:
    ct, mask = _scan(width_mm)
    extent = _ml_extent(ct, mask)

    size = size_from_ct(extent, ct, cortical_hu(ct, ct.index_to_lps(np.argwhere(mask))))

    assert abs(extent.length_mm - 2 * RADIUS) > 0.5  # the label's quantisation
    assert size.value_mm == pytest.approx(2 * RADIUS, abs=0.2)
    assert size.clear and size.label_mm == extent.length_mm
    assert "both ends at the CT's half-maximum edge" in size.note and "lateral end -0." in size.note


def test_an_end_next_to_another_bone_keeps_the_labels_end_and_says_why() -> None:
    # a second bone 1.5 mm beyond the lateral (+x) wall: no soft tissue to measure against there
    ct, mask = _scan(extra=(CENTRE_X + RADIUS + 1.5 + 6.0, 6.0))
    extent = _ml_extent(ct, mask)

    size = size_from_ct(extent, ct)

    assert not size.clear
    assert "lateral end the label's" in size.note and "another bone within 4 mm" in size.note
    assert "medial end -0." in size.note  # the free end is still refined
    assert size.value_mm == pytest.approx(2 * RADIUS + 0.33, abs=0.2)


def test_metal_gives_no_edge_and_the_label_extent_is_kept() -> None:
    ct, mask = _scan(bone_hu=3600.0)
    extent = _ml_extent(ct, mask)

    size = size_from_ct(extent, ct)

    assert not size.clear and size.value_mm == pytest.approx(extent.length_mm)
    assert "metal" in size.note


def test_a_cortex_thinner_than_the_blur_is_not_measured_at_half_maximum() -> None:
    # a 0.6 mm shell over 200 HU marrow, blurred over 1.2 mm: its peak stays far below the
    # bone's cortical HU, and a half-maximum edge would lie outside the bone
    ct, mask = _scan(width_mm=1.2)
    sdf, _ = _cylinder(CENTRE_X, RADIUS, BONE_HU, 1.2)
    shell = np.clip(0.5 - sdf / 1.2, 0, 1) - np.clip(0.5 - (sdf + 0.6) / 1.2, 0, 1)
    marrow = np.clip(0.5 - (sdf + 0.6) / 1.2, 0, 1)
    thin = ct.with_array((SOFT_HU + shell * (BONE_HU - SOFT_HU) + marrow * (200.0 - SOFT_HU)).astype(np.int16))
    extent = _ml_extent(thin, mask)

    size = size_from_ct(extent, thin, cortical=BONE_HU)

    assert not size.clear and size.value_mm == pytest.approx(extent.length_mm)
    assert "cortex thinner than the scan's blur" in size.note


def test_without_a_ct_sizes_are_the_label_extents_and_say_so() -> None:
    ct, mask = _scan()
    extent = _ml_extent(ct, mask)

    sizes = sizes_from_ct({"femur_ml_mm": extent}, None)

    assert sizes["femur_ml_mm"].value_mm == extent.length_mm
    assert "no CT given" in sizes["femur_ml_mm"].note


def test_a_size_without_a_clear_ct_edge_is_one_confidence_step_less_sure() -> None:
    ct, mask = _scan(extra=(CENTRE_X + RADIUS + 1.5 + 6.0, 6.0))
    extent = _ml_extent(ct, mask)
    labels = ct.with_array(mask.astype(np.uint8))
    sizes = {"femur_ml_mm": size_from_ct(extent, ct)}

    found = measures_plan({"femur_ml_mm": sizes["femur_ml_mm"].value_mm}, None, None, labels, sizes)

    assert found["femur_ml_mm"].confidence == "medium"
    assert found["femur_ml_mm"].note == sizes["femur_ml_mm"].note


SIZES = ("femur_ap_mm", "femur_ml_mm", "tibia_ml_mm", "tibia_ap_mm")


def _label_extent(note: str) -> float:
    return float(re.search(r"label extent ([0-9.]+) mm", note).group(1))


def test_a_phantom_knee_planned_with_its_ct_has_sizes_nearer_the_exact_truth_than_its_label_extents(
    oa_flexed_rotated,
) -> None:
    leg = phantom_truth(oa_flexed_rotated.params).legs[0]
    knee = plan_labels(oa_flexed_rotated.labels, oa_flexed_rotated.ct).knees[0]

    ct_error = [abs(knee.measures[n].value - leg.measures[n]) for n in SIZES]
    label_error = [abs(_label_extent(knee.measures[n].note) - leg.measures[n]) for n in SIZES]

    assert np.mean(ct_error) < np.mean(label_error) - 0.1, (ct_error, label_error)
    assert max(ct_error) <= 0.6, dict(zip(SIZES, np.round(ct_error, 2)))


def test_a_knee_planned_without_ct_measures_its_label_extents_and_says_so(oa_flexed_rotated) -> None:
    with_ct = plan_labels(oa_flexed_rotated.labels, oa_flexed_rotated.ct).knees[0]
    labels_only = plan_labels(oa_flexed_rotated.labels, side=with_ct.side).knees[0]

    for name in SIZES:
        found = labels_only.measures[name]
        assert "no CT given" in found.note and found.confidence == "high"
        assert found.value == pytest.approx(_label_extent(with_ct.measures[name].note), abs=0.006)
