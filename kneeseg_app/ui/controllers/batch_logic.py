"""Batch evaluation of models on cases with references (engineers' mode). Qt-free.

Case layouts accepted (documented in the batch dialog):

1. **A folder of case folders.** Each sub-folder is one case (its name is the case id)
   and holds a reference label map named ``labels``, ``label``, ``reference``, ``seg``,
   ``segmentation``, ``mask`` or ``gt`` (``.nii``, ``.nii.gz``, ``.nrrd``, ``.mha``,
   ``.mhd``) and the CT: an image file named ``image``, ``ct`` or ``img``, or a DICOM
   series (in a sub-folder, or the DICOM files directly beside the labels).
2. **A CSV file** with the columns ``image`` and ``labels`` (paths relative to the CSV,
   an image path may be a DICOM folder) and optionally ``case``.

Every case x model gives one :class:`CaseOutcome`; a failing case is recorded with its
reason and the batch goes on. Running and scoring is the core's one evaluation runner
(:mod:`kneeseg_app.core.evaluation`, as the self-test and ``kneeseg-train evaluate``);
summaries use :func:`kneeseg_app.core.metrics.summarize`.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kneeseg_app.core.atomic import write_atomic
from kneeseg_app.core.errors import InputError
from kneeseg_app.core.evaluation import CaseScore, EvalCase, LoadedCase, Predictor, evaluate_cases
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress
from kneeseg_app.ui.state.model_info import label_names, model_name

LABEL_STEMS = ("labels", "label", "reference", "seg", "segmentation", "mask", "gt")
IMAGE_STEMS = ("image", "ct", "img")
VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


BatchCase = EvalCase
"""One case of a batch: an image file or DICOM folder and its reference labels."""

CaseOutcome = CaseScore
"""One model on one case: metrics per bone, or the reason it failed."""


@dataclass
class BatchResult:
    outcomes: list[CaseOutcome] = field(default_factory=list)
    cancelled: bool = False

    def models(self) -> list[str]:
        return list(dict.fromkeys(o.model for o in self.outcomes))

    def ok_outcomes(self, model: str) -> list[CaseOutcome]:
        return [o for o in self.outcomes if o.model == model and o.ok]

    def summary(self, model: str) -> list[Any]:
        """The paper's table for one model (mean ± std, median [IQR] per bone x metric)."""
        from kneeseg_app.core import metrics

        return metrics.summarize([o.metrics for o in self.ok_outcomes(model)])

    def values(self, model: str, bone: str, metric: str) -> list[float]:
        """Finite values of one metric over the successful cases (for box plots)."""
        out = []
        for outcome in self.ok_outcomes(model):
            bone_metrics = outcome.metrics.get(bone)
            value = float(getattr(bone_metrics, metric, math.nan)) if bone_metrics is not None else math.nan
            if math.isfinite(value):
                out.append(value)
        return out

    def timing(self, model: str) -> tuple[float, float]:
        """Mean and standard deviation of seconds per volume."""
        seconds = [o.seconds for o in self.ok_outcomes(model) if math.isfinite(o.seconds)]
        if not seconds:
            return math.nan, math.nan
        mean = sum(seconds) / len(seconds)
        std = math.sqrt(sum((s - mean) ** 2 for s in seconds) / (len(seconds) - 1)) if len(seconds) > 1 else math.nan
        return mean, std


# ----- finding cases -------------------------------------------------------------


def _stem(path: Path) -> str:
    name = path.name.lower()
    for suffix in VOLUME_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return ""


def _named_file(folder: Path, stems: Sequence[str]) -> Path | None:
    files = sorted(p for p in folder.iterdir() if p.is_file() and _stem(p) in stems)
    files.sort(key=lambda p: stems.index(_stem(p)))
    return files[0] if files else None


def _case_image(folder: Path) -> Path:
    image = _named_file(folder, IMAGE_STEMS)
    if image is not None:
        return image
    subfolders = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    preferred = [p for p in subfolders if p.name.lower() in ("dicom", "ct", "image", "images")]
    if preferred or len(subfolders) == 1:
        return (preferred or subfolders)[0]
    return folder  # DICOM files beside the labels


def find_cases(source: str | Path) -> tuple[list[BatchCase], list[str]]:
    """The cases of a batch folder or CSV, and one sentence per entry that was skipped."""
    source = Path(source)
    if source.is_file() and source.suffix.lower() == ".csv":
        return _cases_from_csv(source)
    if not source.is_dir():
        raise InputError(f"{source} is neither a folder of cases nor a CSV file.")
    cases, skipped = [], []
    for folder in sorted(p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".")):
        labels = _named_file(folder, LABEL_STEMS)
        if labels is None:
            skipped.append(f"{folder.name}: no labels file (labels.nii.gz, reference.nrrd, ...).")
            continue
        cases.append(BatchCase(folder.name, _case_image(folder), labels))
    if not cases:
        raise InputError(
            f"No cases found in {source}: each case needs its own sub-folder with the CT and a labels file."
        )
    return cases, skipped


def _cases_from_csv(path: Path) -> tuple[list[BatchCase], list[str]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"Cannot read {path.name}: {exc.strerror or exc}.") from exc
    reader = csv.DictReader(io.StringIO(text))
    columns = {c.strip().lower(): c for c in (reader.fieldnames or [])}
    if "image" not in columns or "labels" not in columns:
        raise InputError(f"{path.name} needs the columns 'image' and 'labels' (and optionally 'case').")
    cases, skipped = [], []
    for number, row in enumerate(reader, start=2):
        image = (row.get(columns["image"]) or "").strip()
        labels = (row.get(columns["labels"]) or "").strip()
        if not image or not labels:
            skipped.append(f"line {number}: empty image or labels.")
            continue
        case_id = (row.get(columns.get("case", ""), "") or "").strip() or Path(image).name.split(".")[0]
        cases.append(BatchCase(case_id, (path.parent / image).resolve(), (path.parent / labels).resolve()))
    if not cases:
        raise InputError(f"{path.name} lists no cases.")
    return cases, skipped


# ----- running -----------------------------------------------------------------

Segment = Callable[[Any, Any, ProgressCallback, CancelToken], Any]
"""``segment(package, volume, progress, cancel) -> SegmentationResult``."""


def engine_segment(options: Any = None) -> Segment:
    """The real engine as a batch ``Segment`` function."""

    segmenters: dict[int, Any] = {}

    def segment(package: Any, volume: Any, progress: ProgressCallback, cancel: CancelToken) -> Any:
        from kneeseg_app.core.inference import engine

        if id(package) not in segmenters:  # networks are opened once per model, not per case
            segmenters[id(package)] = engine.Segmenter(package, options or engine.SegmentOptions())
        return segmenters[id(package)].run(volume, progress=progress, cancel=cancel)

    return segment


def run_batch(
    cases: Sequence[BatchCase],
    packages: Sequence[Any],
    segment: Segment,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    on_outcome: Callable[[CaseOutcome], None] = lambda outcome: None,
) -> BatchResult:
    """Segment every case with every model and compare with its reference (the core's runner)."""
    predictors = [_predictor(package, segment) for package in packages]
    run = evaluate_cases(cases, predictors, progress, cancel, on_score=on_outcome, keep_going=True)
    if not run.cancelled:
        progress("Batch finished", 1.0)
    return BatchResult(run.scores, run.cancelled)


def _predictor(package: Any, segment: Segment) -> Predictor:
    """A package run through ``segment``, scored with the label names of that package."""

    def predict(case: LoadedCase, progress: ProgressCallback, cancel: CancelToken) -> Any:
        return segment(package, case.ct, progress, cancel)

    return Predictor(model_name(package), predict, label_names(package) or None)


def box_stats(values: Sequence[float]) -> tuple[float, float, float, float, float] | None:
    """(low whisker, Q1, median, Q3, high whisker) of a box plot (Tukey: 1.5 IQR), or None."""
    import numpy as np

    data = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if data.size == 0:
        return None
    q1, median, q3 = (float(v) for v in np.percentile(data, [25, 50, 75]))
    reach = 1.5 * (q3 - q1)
    low = float(data[data >= q1 - reach].min())
    high = float(data[data <= q3 + reach].max())
    return low, q1, median, q3, high


# ----- export ----------------------------------------------------------------------


def write_outcomes_csv(result: BatchResult, path: str | Path, overwrite: bool = False) -> Path:
    """One row per case x model x bone with every metric, the time and any error."""
    from kneeseg_app.core.metrics import METRIC_INFO

    rows = [["case", "model", "bone", *METRIC_INFO, "seconds", "error"]]
    for o in result.outcomes:
        if not o.ok:
            rows.append([o.case_id, o.model, "", *[""] * len(METRIC_INFO), "", o.error])
        for bone, m in o.metrics.items():
            rows.append([o.case_id, o.model, bone, *(_num(v) for v in m.as_dict().values()), _num(o.seconds), ""])
    return _write_rows(path, rows, overwrite)


def write_summary_table_csv(result: BatchResult, path: str | Path, overwrite: bool = False) -> Path:
    """The paper's summary, one row per model x bone x metric, plus seconds per volume."""
    rows = [
        ["model", "bone", "metric", "unit", "n", "n_inf", "mean", "std", "median", "q1", "q3", "mean_sd", "median_iqr"]
    ]
    for model in result.models():
        for r in result.summary(model):
            rows.append(
                [
                    model,
                    r.bone,
                    r.metric,
                    r.unit,
                    r.n,
                    r.n_inf,
                    *(_num(v) for v in (r.mean, r.std, r.median, r.q1, r.q3)),
                    r.mean_sd_text(),
                    r.median_iqr_text(),
                ]
            )
        mean, std = result.timing(model)
        rows.append(
            [
                model,
                "",
                "seconds_per_volume",
                "s",
                len(result.ok_outcomes(model)),
                0,
                _num(mean),
                _num(std),
                "",
                "",
                "",
                "",
                "",
            ]
        )
    return _write_rows(path, rows, overwrite)


def _num(value: Any) -> str:
    return format(float(value), ".6g")


def _write_rows(path: str | Path, rows: list[list[Any]], overwrite: bool) -> Path:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    text = buffer.getvalue()
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=overwrite)
