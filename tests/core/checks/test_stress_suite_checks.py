"""The stress suite's knee phantoms (every variation axis of the wide generator) never fail a check on their
true labels; its no-knee negatives (thigh, calf, hip, ankle, torso, arm, table, air) hold no knee."""

from __future__ import annotations

import pytest

from kneeseg_app.core.checks import Status, check_result
from kneeseg_app.core.checks.bone_checks import MIN_BONE_ML
from trainer.stress import render_case
from trainer.stress_suite import suite_cases

NAMES = {1: "femur", 2: "tibia"}
CASES = suite_cases(1, "quick")


@pytest.mark.parametrize("case", [c for c in CASES if not c.negative], ids=lambda c: c.case_id)
def test_a_knee_of_the_stress_suite_never_fails_a_check(case) -> None:
    phantom = render_case(case)
    report = check_result(phantom.ct, phantom.labels, NAMES)
    found = report.get("knee_found").details
    if min(found["femur_ml"], found["tibia_ml"]) < MIN_BONE_ML:
        # the tiny test grid of a row that pins thick slices can miss the joint: then it is no knee CT
        assert report.get("knee_found").status is Status.FAIL
        return
    assert report.status is not Status.FAIL, [c.message for c in report.failed]


def test_most_quick_stress_knees_show_the_joint() -> None:
    """The test above must not pass by finding no knee: the suite's quick grids show both bones."""
    knees = [c for c in CASES if not c.negative]
    both = 0
    for case in knees:
        labels = render_case(case).labels.array
        both += int((labels == 1).any() and (labels == 2).any())
    assert both >= len(knees) - 2


@pytest.mark.parametrize("case", [c for c in CASES if c.negative][::2], ids=lambda c: c.case_id)
def test_a_negative_of_the_stress_suite_is_no_knee(case) -> None:
    phantom = render_case(case)
    report = check_result(phantom.ct, phantom.labels, NAMES)
    assert report.get("knee_found").status is Status.FAIL


@pytest.mark.slow
def test_the_bundled_model_on_every_negative_kind_gives_no_bone_or_a_failed_result() -> None:
    """The stress suite's own no-knee scans (full size, as `kneeseg-train stress` measures them): what the
    network marks is discarded for want of a knee joint, or at least the checks fail the result."""
    from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
    from kneeseg_app.core.model.discovery import find_model

    package = find_model(None)
    segmenter = Segmenter(package, SegmentOptions(threads=1))
    for case in suite_cases(1, negatives_per_kind=1, rows=()):
        phantom = render_case(case)
        result = segmenter.run(phantom.ct)
        report = check_result(phantom.ct, result.labels, package.label_names, result.top_probability, result.no_knee)
        assert sum(result.volumes_ml.values()) <= 5.0 or report.status is Status.FAIL, (case.case_id, result.volumes_ml)
