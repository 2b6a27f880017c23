"""The pieces and joint checks name each leg's side as the report and the window do (core.sides),
never by where a lone knee lies against the scanner's centre line."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kneeseg_app.core.checks import check_result
from kneeseg_app.core.identity import PatientIdentity
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.sides import single_knee_side, split_sides
from kneeseg_app.core.volume import Volume

NAMES = {1: "femur", 2: "tibia"}
SHAPE = (48, 128, 128)


def _moved_to_x(volume: Volume, origin_x: float) -> Volume:
    origin = (origin_x, *volume.origin_xyz[1:])
    return replace(volume, origin_xyz=origin)


@pytest.fixture(scope="module")
def right_knee_on_the_left_of_the_table():
    """A single right knee whose centre lies 80 mm on the patient's left of x = 0 (a DICOM CT)."""
    phantom = generate_phantom(3, shape_zyx=SHAPE, both_legs=False, side="right")
    bone = np.argwhere(phantom.labels.array > 0).mean(axis=0)
    centre_x = float(phantom.labels.index_to_lps(bone)[0])
    origin_x = phantom.ct.origin_xyz[0] + 80.0 - centre_x
    ct, labels = _moved_to_x(phantom.ct, origin_x), _moved_to_x(phantom.labels, origin_x)
    assert ct.dicom is not None  # the centre line would count for DICOM, and must not win over the fibula
    return ct, labels


def _leg_sides(report, check_id: str) -> list[str]:
    return [leg["side"] for leg in report.get(check_id).details["legs"]]


def test_a_right_knee_left_of_the_centre_line_is_called_right_like_single_knee_side(
    right_knee_on_the_left_of_the_table,
) -> None:
    ct, labels = right_knee_on_the_left_of_the_table
    decision = single_knee_side(labels, ct)
    assert decision.side == "right" and "fibula" in decision.how
    report = check_result(ct, labels, NAMES)
    components = report.get("components")
    assert components.message == "One femur and one tibia per leg (1 leg: right)."
    assert _leg_sides(report, "components") == ["right"]
    assert _leg_sides(report, "joint") == ["right"]


def test_a_laterality_tag_that_contradicts_the_position_names_the_leg_as_the_window_does(
    right_knee_on_the_left_of_the_table,
) -> None:
    ct, labels = right_knee_on_the_left_of_the_table
    tagged = replace(ct, dicom=replace(ct.dicom, identity=PatientIdentity(laterality="R")))
    assert split_sides(labels, NAMES, ct=tagged).knee_line() == "Knee: right"
    report = check_result(tagged, labels, NAMES)
    assert _leg_sides(report, "components") == ["right"] == _leg_sides(report, "joint")


def test_a_lone_femur_is_named_by_the_side_decision_the_caller_passes(right_knee_on_the_left_of_the_table) -> None:
    """The caller's split (the one the report prints) is what the messages say, also for a failure."""
    ct, labels = right_knee_on_the_left_of_the_table
    split = split_sides(labels, NAMES, ct=ct)
    femur_only = np.where(labels.array == 1, 1, 0).astype(np.uint8)
    report = check_result(ct, femur_only, NAMES, sides=split)
    components = report.get("components")
    assert "a femur (right) has no tibia next to it" in components.message
    assert report.get("joint").message.startswith("No femur and tibia of one leg")


def test_an_unknown_side_stays_unknown_instead_of_a_guess_from_the_origin() -> None:
    """A NIfTI's origin is anyone's choice: without a header side or a fibula the side is not named."""
    phantom = generate_phantom(3, shape_zyx=SHAPE, both_legs=False, side="right")
    no_bone_around = phantom.ct.with_array(np.where(phantom.labels.array > 0, phantom.ct.array, -1000).astype(np.int16))
    ct = replace(_moved_to_x(no_bone_around, 60.0), dicom=None)
    labels = _moved_to_x(phantom.labels, 60.0)
    assert single_knee_side(labels, ct).side is None
    report = check_result(ct, labels, NAMES)
    assert _leg_sides(report, "components") == ["unknown"]


def test_two_knees_are_named_beside_the_midline_the_split_draws() -> None:
    phantom = generate_phantom(3, shape_zyx=SHAPE)
    split = split_sides(phantom.labels, NAMES, ct=phantom.ct)
    assert split.knees == 2
    for sides in (split, None):
        report = check_result(phantom.ct, phantom.labels, NAMES, sides=sides)
        legs = report.get("components").details["legs"]
        assert sorted(leg["side"] for leg in legs) == ["left", "right"]
        femur_ml = {leg["side"]: leg["femur_ml"] for leg in legs}
        by_part = split.volumes_ml()
        assert femur_ml == pytest.approx({s: by_part[f"{s} femur"] for s in ("left", "right")}, abs=0.2)
