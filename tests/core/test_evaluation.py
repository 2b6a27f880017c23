"""The one segment-and-score runner (self-test, batch window, kneeseg-train evaluate)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from onnx_factory import FEMUR_HU, TIBIA_HU, write_model_package

from kneeseg_app.core.errors import Cancelled, LabelMapError
from kneeseg_app.core.evaluation import (
    EvalCase,
    Predictor,
    engine_predictor,
    evaluate_cases,
    load_case,
    score_case,
    unique_names,
)
from kneeseg_app.core.model.package import load_model_package
from kneeseg_app.core.progress import CancelToken
from kneeseg_app.core.volume import Volume


def knee_blocks() -> tuple[Volume, Volume]:
    """A CT with a femur block over a tibia block (HU the threshold model reads) and its labels."""
    hu = np.full((12, 48, 48), -100, dtype=np.int16)
    labels = np.zeros(hu.shape, dtype=np.uint8)
    hu[7:, 12:36, 12:36], labels[7:, 12:36, 12:36] = int(FEMUR_HU + 300), 1
    hu[:5, 12:36, 12:36], labels[:5, 12:36, 12:36] = int(TIBIA_HU + 400), 2
    ct = Volume(hu, (2.0, 1.0, 1.0), (-24.0, -24.0, 0.0))
    return ct, ct.with_array(labels)


def write_case(folder: Path, labels: np.ndarray | None = None) -> EvalCase:
    ct, truth = knee_blocks()
    folder.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(ct.to_sitk(), str(folder / "image.nii.gz"))
    sitk.WriteImage(
        truth.with_array(truth.array if labels is None else labels).to_sitk(), str(folder / "labels.nii.gz")
    )
    return EvalCase(folder.name, folder / "image.nii.gz", folder / "labels.nii.gz")


@pytest.fixture
def package(tmp_path):
    return load_model_package(write_model_package(tmp_path / "model", patch_size=(48, 48), target_spacing=(1.0, 1.0)))


def test_a_case_is_read_with_its_reference_on_the_cts_grid(tmp_path) -> None:
    loaded = load_case(write_case(tmp_path / "one"))
    assert loaded.ct.shape == loaded.reference.shape == (12, 48, 48)
    assert set(np.unique(loaded.reference.array)) == {0, 1, 2}


def test_a_reference_on_another_grid_is_refused_in_words(tmp_path) -> None:
    case = write_case(tmp_path / "bad")
    sitk.WriteImage(sitk.Image(5, 5, 5, sitk.sitkUInt8), str(case.labels))
    with pytest.raises(LabelMapError, match="grid"):
        load_case(case)


def test_the_engine_scores_the_case_with_the_models_label_names(tmp_path, package) -> None:
    loaded = load_case(write_case(tmp_path / "one"))
    score, result = score_case(loaded, engine_predictor(package))
    assert score.ok and score.model == package.name
    assert set(score.metrics) == {"femur", "tibia"}
    assert score.metrics["femur"].dice > 0.9 and score.metrics["tibia"].dice > 0.9
    assert score.seconds > 0 and score.cpu_seconds >= 0
    assert result.labels.shape == loaded.ct.shape  # the engine's own result comes back too


def test_many_cases_many_models_each_case_read_once_failures_recorded(tmp_path, package) -> None:
    good = write_case(tmp_path / "good")
    broken = write_case(tmp_path / "broken")
    sitk.WriteImage(sitk.Image(5, 5, 5, sitk.sitkUInt8), str(broken.labels))
    calls: list[str] = []

    def perfect(case, progress, cancel):
        calls.append(case.case.case_id)
        return case.reference.array.copy()

    seen = []
    run = evaluate_cases(
        [good, broken], [engine_predictor(package), Predictor("perfect", perfect)], on_score=seen.append
    )
    assert [(s.case_id, s.model, s.ok) for s in run.scores] == [
        ("good", package.name, True),
        ("good", "perfect", True),
        ("broken", package.name, False),
        ("broken", "perfect", False),
    ]
    assert seen == run.scores and calls == ["good"]
    assert "grid" in run.scores[2].error
    assert run.for_model("perfect")[0].metrics["tibia"].dice == 1.0


def test_without_keep_going_the_first_failure_is_raised(tmp_path) -> None:
    broken = write_case(tmp_path / "broken")
    sitk.WriteImage(sitk.Image(5, 5, 5, sitk.sitkUInt8), str(broken.labels))
    with pytest.raises(LabelMapError):
        evaluate_cases([broken], [Predictor("x", lambda c, p, k: c.reference.array)], keep_going=False)


def test_a_cancelled_run_stops_and_says_so(tmp_path) -> None:
    cases = [write_case(tmp_path / n) for n in ("a", "b")]
    token = CancelToken()

    def cancel_then_raise(case, progress, cancel):
        token.cancel()
        cancel.raise_if_cancelled()

    run = evaluate_cases(cases, [Predictor("x", cancel_then_raise)], cancel=token)
    assert run.cancelled and run.scores == []
    with pytest.raises(Cancelled):
        token.raise_if_cancelled()


def test_a_prediction_on_another_shape_is_a_failure_not_a_crash(tmp_path) -> None:
    run = evaluate_cases([write_case(tmp_path / "a")], [Predictor("small", lambda c, p, k: np.zeros((2, 2, 2)))])
    assert not run.scores[0].ok and "shape" in run.scores[0].error


def test_model_names_are_made_unique_for_tables() -> None:
    assert unique_names(["a", "b", "a", "a"]) == ["a", "b", "a (2)", "a (3)"]


def test_the_self_test_the_batch_window_and_the_trainer_share_this_runner() -> None:
    import inspect

    from kneeseg_app.core import evaluation, selftest
    from kneeseg_app.ui.controllers import batch_logic
    from trainer import evaluate as trainer_evaluate

    assert batch_logic.BatchCase is evaluation.EvalCase and batch_logic.CaseOutcome is evaluation.CaseScore
    assert trainer_evaluate.EvalCase is evaluation.EvalCase
    assert "evaluate_cases(" in inspect.getsource(batch_logic.run_batch)
    assert "evaluate_cases(" in inspect.getsource(trainer_evaluate.evaluate)
    assert "score_case(" in inspect.getsource(selftest.demo_case_metrics)
