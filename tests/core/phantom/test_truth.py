"""A phantom's truth (``Phantom.truth``): the landmark rules on its continuous bones, from its true axes."""

from __future__ import annotations

import math

import pytest
from scipy.spatial import cKDTree

from kneeseg_app.core.anatomy import mask_points
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.phantom.frames import leg_frames


@pytest.fixture(scope="module")
def phantom():
    return generate_phantom(
        8, shape_zyx=(241, 300, 300), spacing_zyx=(1.0, 0.7, 0.7), both_legs=False, coverage_mm=(120.0, 120.0)
    )


def test_true_landmarks_lie_on_the_bones_the_labels_show(phantom) -> None:
    leg = phantom.truth.legs[0]
    for value, bone in ((1, leg.femur), (2, leg.tibia)):
        boundary, _ = mask_points(phantom.labels.array == value, phantom.labels.index_to_lps)
        tree = cKDTree(boundary)
        for name, point in bone.points.items():
            if point is None:  # the hip and the ankle are not in this short scan; a default draw has no sulcus
                assert name in ("femoral_head_centre", "ankle_centre", "medial_sulcus")
                continue
            distance, _ = tree.query(point)
            assert distance < 1.5, (name, distance)


def test_the_true_femoral_shaft_leans_by_the_drawn_valgus_angle(phantom) -> None:
    params = phantom.params.legs[0]
    frame = leg_frames(params).femur
    local = phantom.truth.legs[0].femur.shaft.direction @ frame.matrix[:, :3].T
    coronal = math.degrees(math.atan2(local[0], local[2]))  # lateral lean in the femur's own (u, w) plane
    # the drawn shaft drifts laterally by the valgus angle above the metaphysis; the metaphyseal
    # bow and the surface waves (<= 1.2 mm) within the fitted span make the fitted lean smaller
    assert 1.0 < coronal < params.shape.femur_valgus_deg + 1.0


def test_truth_is_computed_once_and_names_each_leg_by_side(phantom) -> None:
    assert phantom.truth is phantom.truth
    assert [leg.side for leg in phantom.truth.legs] == [leg.side for leg in phantom.params.legs]
    measures = phantom.truth.legs[0].measures
    assert measures["posterior_condylar_angle_deg"] == pytest.approx(0.0, abs=2.0)  # drawn without condylar twist
    assert 75.0 < measures["aldfa_deg"] < 92.0 and 80.0 < measures["mpta_deg"] < 100.0
