"""The bundled model on the stress suite's hip-to-ankle phantom (1200 mm on 3 mm slices): the femur ends at
its head and the tibia at its plafond, so the plan's hip and ankle centres are those of the true labels.

Before the far ends were trimmed (femoral_head.py, talus.py) the acetabulum and the talus came with the
bones: femur HD95 12.0 mm, tibia 6.5 mm; the plan's head centre 52 mm too high, its ankle centre 19 mm
too low, the hip-knee-ankle angle 1.3 deg off."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
from kneeseg_app.core.metrics.scores import compute_metrics
from kneeseg_app.core.model.discovery import find_model
from kneeseg_app.core.planning import plan_labels
from trainer.stress import render_case
from trainer.stress_suite import suite_cases

HIP_TO_ANKLE = "knee-91003"


@pytest.fixture(scope="module")
def hip_to_ankle():
    case = next(c for c in suite_cases() if c.case_id == HIP_TO_ANKLE)
    assert case.label == "1200 mm"
    phantom = render_case(case)
    result = Segmenter(find_model(None), SegmentOptions(threads=1)).run(phantom.ct)
    return phantom, result


def _point(plan, name: str) -> np.ndarray:
    finding = plan.knees[0].finding(name)
    assert finding is not None and finding.point is not None, name
    return finding.point


@pytest.mark.slow
def test_the_bones_end_where_the_true_ones_do(hip_to_ankle) -> None:
    phantom, result = hip_to_ankle
    scores = compute_metrics(result.labels.array, phantom.labels.array, phantom.ct.spacing_zyx)
    for bone in ("femur", "tibia"):
        assert scores[bone].hd95_mm <= 4.0, (bone, scores[bone])
        assert scores[bone].dice >= 0.97, (bone, scores[bone])


@pytest.mark.slow
def test_the_plan_finds_the_hip_and_ankle_centres_of_the_true_labels(hip_to_ankle) -> None:
    phantom, result = hip_to_ankle
    truth = plan_labels(phantom.labels, phantom.ct)
    planned = plan_labels(result.labels, phantom.ct)
    for name in ("femoral_head_centre", "ankle_centre"):
        assert np.linalg.norm(_point(planned, name) - _point(truth, name)) <= 5.0, name
    hka = [p.knees[0].finding("hka_deg").value for p in (truth, planned)]
    assert abs(hka[0] - hka[1]) <= 0.6
