"""Segment-and-score: run models on cases with a reference and measure the agreement.

One runner for the three places that evaluate a model: the self-test (the demo case),
the batch window (many cases x many models) and ``kneeseg-train evaluate`` (a held-out
test set, also against nnU-Net's own predictor). They used to read the CT, check the
reference, time the model and compute the metrics each their own way; now a case is
read once (:func:`load_case`: CT, then the reference through the one reader and grid
check of :mod:`kneeseg_app.core.imageio`), each model is timed the same way (wall clock
and process CPU time around the prediction only) and scored with the model's own label
names.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kneeseg_app.core.errors import Cancelled, KneeSegError
from kneeseg_app.core.labels import names_or_default
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress, scaled
from kneeseg_app.core.volume import Volume

if TYPE_CHECKING:
    from kneeseg_app.core.inference.settings import SegmentOptions
    from kneeseg_app.core.metrics import BoneMetrics
    from kneeseg_app.core.model.package import ModelPackage


@dataclass(frozen=True)
class EvalCase:
    """One case: the CT (an image file or a DICOM folder) and its reference label map."""

    case_id: str
    image: Path
    labels: Path
    """NIfTI/NRRD/MHA label map or a DICOM SEG of the CT."""


@dataclass(frozen=True)
class LoadedCase:
    """A case read and checked: the reference lies on the CT's grid."""

    case: EvalCase
    ct: Volume
    reference: Volume


Predict = Callable[[LoadedCase, ProgressCallback, CancelToken], Any]
"""``predict(case, progress, cancel)``: a label array on the CT's grid, a label Volume, or a
result with a ``labels`` Volume (the engine's SegmentationResult)."""


@dataclass(frozen=True)
class Predictor:
    """A model under test: its name (table column), how it predicts and its label names."""

    name: str
    predict: Predict
    label_names: Mapping[int, str] | None = None
    """Label id -> bone name of this model's output (None: the app's label table)."""


@dataclass
class CaseScore:
    """One model on one case: metrics per bone and times, or the sentence saying why it failed."""

    case_id: str
    model: str
    metrics: dict[str, BoneMetrics] = field(default_factory=dict)
    seconds: float = math.nan
    cpu_seconds: float = math.nan
    error: str = ""

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class EvaluationRun:
    """Every case x model scored so far, in case order; ``cancelled`` when the user stopped it."""

    scores: list[CaseScore] = field(default_factory=list)
    cancelled: bool = False

    def for_model(self, model: str) -> list[CaseScore]:
        return [s for s in self.scores if s.model == model]


def load_case(
    case: EvalCase, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
) -> LoadedCase:
    """Read the CT and its reference (any format imageio reads, DICOM SEG included) on one grid."""
    from kneeseg_app.core.imageio import open_volume, read_label_map

    ct = open_volume(case.image, progress=progress, cancel=cancel)
    reference = read_label_map(case.labels, reference=ct)
    return LoadedCase(case, ct, reference)


def label_array(output: Any) -> np.ndarray:
    """The label array of whatever a predictor returned (array, Volume or engine result)."""
    if isinstance(output, np.ndarray):
        return output
    if isinstance(output, Volume):
        return output.array
    labels = getattr(output, "labels", None)
    if isinstance(labels, Volume):
        return labels.array
    raise TypeError(f"a predictor returned {type(output).__name__}, not a label map")


def score_case(
    loaded: LoadedCase,
    predictor: Predictor,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[CaseScore, Any]:
    """Run one model on one loaded case and score it; also returns the predictor's own output."""
    from kneeseg_app.core.metrics import compute_metrics

    cancel = cancel or CancelToken()
    wall, cpu = time.perf_counter(), time.process_time()
    output = predictor.predict(loaded, progress, cancel)
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    labels = label_array(output)
    if labels.shape != loaded.reference.shape:
        raise KneeSegError(
            f"{predictor.name} returned a label map of shape {labels.shape}, not the CT's {loaded.reference.shape}."
        )
    metrics = compute_metrics(
        labels, loaded.reference.array, loaded.ct.spacing_zyx, names_or_default(predictor.label_names)
    )
    return CaseScore(loaded.case.case_id, predictor.name, metrics, seconds, cpu_seconds), output


def evaluate_cases(
    cases: Sequence[EvalCase],
    predictors: Sequence[Predictor],
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    on_score: Callable[[CaseScore], None] = lambda score: None,
    keep_going: bool = True,
) -> EvaluationRun:
    """Every predictor on every case (each case read once); stops early when cancelled.

    ``keep_going``: a case that cannot be read or segmented is recorded with its reason
    and the run goes on (the batch window); otherwise the error is raised (the trainer).
    """
    cancel = cancel or CancelToken()
    run = EvaluationRun()
    steps = max(1, len(cases) * len(predictors))
    try:
        for c, case in enumerate(cases):
            cancel.raise_if_cancelled()
            share = scaled(progress, c * len(predictors) / steps, (c + 1) * len(predictors) / steps)
            _evaluate_one(case, predictors, share, cancel, _Sink(run, on_score, keep_going))
    except Cancelled:
        run.cancelled = True
        return run
    progress("Evaluated", 1.0)
    return run


@dataclass
class _Sink:
    run: EvaluationRun
    on_score: Callable[[CaseScore], None]
    keep_going: bool

    def add(self, score: CaseScore) -> None:
        self.run.scores.append(score)
        self.on_score(score)

    def failed(self, case_id: str, model: str, exc: Exception) -> None:
        if not self.keep_going:
            raise exc
        self.add(CaseScore(case_id, model, error=failure_sentence(exc)))


def _evaluate_one(
    case: EvalCase, predictors: Sequence[Predictor], progress: ProgressCallback, cancel: CancelToken, sink: _Sink
) -> None:
    try:
        loaded = load_case(case, cancel=cancel)
    except Cancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - one unreadable case must not stop a batch
        for predictor in predictors:
            sink.failed(case.case_id, predictor.name, exc)
        return
    for m, predictor in enumerate(predictors):
        report = scaled(progress, m / len(predictors), (m + 1) / len(predictors))
        labelled = _labelled(report, f"{case.case_id} · {predictor.name}")
        try:
            score, _ = score_case(loaded, predictor, labelled, cancel)
        except Cancelled:
            raise
        except Exception as exc:  # noqa: BLE001
            sink.failed(case.case_id, predictor.name, exc)
            continue
        sink.add(score)


def _labelled(report: ProgressCallback, prefix: str) -> ProgressCallback:
    """Progress whose stage names the case and model ('case01 · model: Network')."""
    return lambda stage, fraction: report(f"{prefix}: {stage}", fraction)


def failure_sentence(exc: BaseException) -> str:
    """One sentence for a failed case: the KneeSeg message, or the kind of unexpected error."""
    if isinstance(exc, KneeSegError):
        return str(exc)
    return f"unexpected error ({type(exc).__name__}: {str(exc)[:160]})"


def engine_predictor(package: ModelPackage, options: SegmentOptions | None = None, name: str = "") -> Predictor:
    """A model package run by the app's engine, exactly as the CLI and the window run it.

    One Segmenter serves every case, so the networks are opened once (on the first case).
    """
    held: list[Any] = []

    def predict(case: LoadedCase, progress: ProgressCallback, cancel: CancelToken) -> Any:
        if not held:
            from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions

            held.append(Segmenter(package, options or SegmentOptions()))
        return held[0].run(case.ct, progress=progress, cancel=cancel)

    names = getattr(package, "label_names", None)
    return Predictor(name or package.name, predict, names)


def unique_names(names: Sequence[str]) -> list[str]:
    """Model names made unique for table columns ('a', 'a (2)', ...)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out
