"""What planning says when it cannot measure: short scans, no hip or ankle, empty labels."""

from __future__ import annotations

import numpy as np
import pytest
from planning_phantoms import knee_phantom

from kneeseg_app.core.errors import LabelMapError
from kneeseg_app.core.planning import plan_labels
from kneeseg_app.core.volume import Volume


def test_a_short_scan_gives_landmarks_but_says_the_shaft_angles_cannot_be_measured() -> None:
    phantom = knee_phantom(5, both=False, oa=False, flexion=0.0, rotation=None, size=300, coverage=40.0)

    knee = plan_labels(phantom.labels, phantom.ct).knees[0]

    for axis in ("femoral_shaft_axis", "tibial_shaft_axis"):
        assert knee.finding(axis).status == "scan_too_short" and knee.finding(axis).direction is None
    for name in ("aldfa_deg", "mpta_deg", "slope_medial_deg", "slope_lateral_deg"):
        assert knee.measures[name].status == "scan_too_short" and knee.measures[name].value is None
    assert knee.finding("epicondyle_lateral").ok and knee.finding("epicondyle_lateral").confidence != "high"
    assert knee.measures["femur_ap_mm"].ok


def test_the_hip_and_the_ankle_are_reported_missing_not_guessed(oa_flexed_rotated) -> None:
    knee = plan_labels(oa_flexed_rotated.labels, oa_flexed_rotated.ct).knees[0]

    for name in ("femoral_head_centre", "ankle_centre", "femoral_mechanical_axis", "tibial_mechanical_axis"):
        assert knee.finding(name).status == "not_in_scan" and knee.finding(name).point is None
    for name in ("hka_deg", "mldfa_deg", "distal_femoral_valgus_deg"):
        assert knee.measures[name].status == "not_in_scan" and knee.measures[name].value is None


def test_every_found_value_says_how_it_was_found_and_how_sure_it_is(oa_flexed_rotated) -> None:
    knee = plan_labels(oa_flexed_rotated.labels, oa_flexed_rotated.ct).knees[0]
    findings = [f for b in knee.bones.values() for f in b.findings.values()] + list(knee.measures.values())
    for f in findings:
        assert f.method and f.confidence in ("high", "medium", "low")
        assert f.status in ("ok", "not_found", "scan_too_short", "not_in_scan", "not_implemented")
        assert (
            (f.point is not None or f.value is not None) == f.ok
            or f.kind == "axis"
            and f.ok
            and f.direction is not None
        )


def test_a_label_map_without_bone_is_refused_in_one_sentence() -> None:
    empty = Volume(np.zeros((4, 5, 6), np.uint8), (1.0, 1.0, 1.0))
    with pytest.raises(LabelMapError, match="nothing to plan"):
        plan_labels(empty)
