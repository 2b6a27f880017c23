"""Moving a landmark by hand updates the lines through it and the angles, as geometry says."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

from kneeseg_app.core.errors import EditError
from kneeseg_app.core.planning import plan_labels
from kneeseg_app.core.planning.edit import landmark_angles, move_landmark


@pytest.fixture(scope="module")
def knee(oa_flexed_rotated):
    return plan_labels(oa_flexed_rotated.labels, oa_flexed_rotated.ct).knees[0]


def _femur_local(knee, name: str) -> np.ndarray:
    bone = knee.bones["femur"]
    axes = np.asarray(bone.frame_axes)
    return axes @ (knee.finding(name).point - np.asarray(bone.frame_origin))


def test_the_automatic_angles_are_what_the_landmarks_give(knee) -> None:
    for name, value in landmark_angles(knee).items():
        assert value == pytest.approx(knee.measures[name].value, abs=1e-6)


def test_moving_the_lateral_epicondyle_forward_turns_the_tea_by_the_expected_angle(knee) -> None:
    edited = copy.deepcopy(knee)
    before = edited.measures["posterior_condylar_angle_clinical_deg"].value
    medial, lateral = _femur_local(edited, "epicondyle_medial"), _femur_local(edited, "epicondyle_lateral")
    anterior = -np.asarray(edited.bones["femur"].frame_axes)[1]

    move_landmark(edited, "epicondyle_lateral", edited.finding("epicondyle_lateral").point + 5.0 * anterior)

    tea = lateral - medial
    # the lateral end moving forwards turns the TEA internally: the angle falls (+ = external)
    expected_turn = math.degrees(math.atan2(tea[1] - 5.0, tea[0]) - math.atan2(tea[1], tea[0]))
    after = edited.measures["posterior_condylar_angle_clinical_deg"].value
    assert after - before == pytest.approx(expected_turn, abs=1e-6)
    assert expected_turn < -2.0  # 5 mm over ~80 mm
    line = edited.finding("transepicondylar_axis")
    assert np.allclose(line.point, edited.finding("epicondyle_lateral").point) and "by hand" in line.note
    assert edited.finding("epicondyle_lateral").note == "set by hand"
    assert knee.measures["posterior_condylar_angle_clinical_deg"].value == before  # the original plan is untouched


def test_raising_the_lateral_distal_point_lowers_the_aldfa(knee) -> None:
    edited = copy.deepcopy(knee)
    before = edited.measures["aldfa_deg"].value
    superior = np.asarray(edited.bones["femur"].frame_axes)[2]

    move_landmark(edited, "distal_lateral", edited.finding("distal_lateral").point + 3.0 * superior)

    assert edited.measures["aldfa_deg"].value < before - 2.0
    assert edited.measures["femur_ap_mm"].value == knee.measures["femur_ap_mm"].value  # sizes stay as found


def test_an_unknown_landmark_is_refused(knee) -> None:
    with pytest.raises(EditError, match="not a landmark"):
        move_landmark(copy.deepcopy(knee), "femoral_shaft_axis", np.zeros(3))
