"""Evaluate model packages (and nnU-Net's own predictor) on a held-out test set.

For every model and test case: the six metrics of the study plus HD95 and volumes per
bone (:func:`kneeseg_app.core.metrics.compute_metrics`), and the inference time per
volume (wall clock and process CPU time, which is what a CPU-only hospital laptop
pays). Written to the output folder:

* ``per_case.csv``   model, case, bone, every metric, seconds, cpu_seconds
* ``table1.md/.csv`` the paper's Table 1: mean ± std of ASSD, Dice and HD per bone, models side by side
* ``table2.md/.csv`` the paper's Table 2: median [IQR] of all metrics, models side by side
* ``timing.md``      inference time per volume
* ``boxplot_<metric>.png`` one box per model and bone
* ``summary.json``   all of it, machine-readable
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kneeseg_app.core.atomic import write_atomic
from kneeseg_app.core.errors import Cancelled
from kneeseg_app.core.evaluation import EvalCase, LoadedCase, Predictor, engine_predictor, evaluate_cases, unique_names
from kneeseg_app.core.labels import BONE_NAMES
from kneeseg_app.core.metrics import METRIC_INFO, BoneMetrics
from kneeseg_app.core.metrics.summary import SummaryRow, summarize, summarize_values
from kneeseg_app.core.model.schema import ValidationInfo
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress
from kneeseg_app.core.volume import Volume
from trainer.errors import DatasetError

TABLE1_METRICS = ("assd_mm", "dice", "hausdorff_mm")
TABLE2_METRICS = ("dice", "jaccard", "precision", "recall", "hausdorff_mm", "hd95_mm", "assd_mm")
BONES = BONE_NAMES


@dataclass
class ModelResult:
    """One model's metrics and times over the test cases."""

    model: str
    cases: list[str] = field(default_factory=list)
    metrics: list[dict[str, BoneMetrics]] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)

    def summary(self) -> list[SummaryRow]:
        return summarize(self.metrics)

    def row(self, bone: str, metric: str) -> SummaryRow:
        return summarize_values(bone, metric, [m[bone].as_dict()[metric] for m in self.metrics if bone in m])


Predict = Callable[[Path, Volume], np.ndarray]
"""nnU-Net's predictor under test: (image path, image volume) -> label array on the image's grid."""


def eval_cases_from_dataset(dataset_dir: str | os.PathLike[str]) -> list[EvalCase]:
    """The held-out cases of a prepared dataset (imagesTs / labelsTs)."""
    root = Path(dataset_dir)
    cases = []
    for image in sorted((root / "imagesTs").glob("*_0000.nii.gz")):
        case = image.name[: -len("_0000.nii.gz")]
        labels = root / "labelsTs" / f"{case}.nii.gz"
        if labels.is_file():
            cases.append(EvalCase(case, image, labels))
    if not cases:
        raise DatasetError(f"{root} has no test cases (imagesTs with labelsTs).")
    return cases


def package_predictor(
    package_dir: str | os.PathLike[str], tta: bool | None = False, threads: int | None = None
) -> Predictor:
    """A model package run by the app's engine, as the app runs it (with its post-processing).

    ``tta=None`` follows the manifest's ``default_tta``, as the CLI and the window do."""
    from kneeseg_app.core.inference.engine import SegmentOptions
    from kneeseg_app.core.model.package import load_model_package

    return engine_predictor(load_model_package(package_dir), SegmentOptions(tta=tta, threads=threads))


def nnunet_run_predictor(
    run_folder: str | os.PathLike[str], folds: str | Sequence[int] = "best", tta: bool = False, threads: int = 1
) -> Predictor:
    """nnU-Net's own nnUNetPredictor for a trained run (no post-processing, as nnU-Net predicts)."""
    from trainer.export import resolve_folds
    from trainer.nnunet.run import TrainedRun, load_networks, nnunet_predict_file, nnunet_predictor

    run = TrainedRun.from_folder(run_folder)
    chosen = resolve_folds(run, folds, "final")
    predictor = nnunet_predictor(run, load_networks(run, chosen), tta=tta, threads=threads)
    name = f"nnUNetPredictor {run.trainer} {run.configuration} fold {'+'.join(map(str, chosen))}"
    return file_predictor(name, lambda path, volume: np.asarray(nnunet_predict_file(predictor, path)))


def file_predictor(name: str, predict: Predict) -> Predictor:
    """A predictor that reads the image file itself (nnU-Net), as the one evaluation runner needs it."""
    return Predictor(name, lambda case, progress, cancel: predict(case.case.image, case.ct))


def evaluate(
    models: Sequence[Predictor],
    cases: Sequence[EvalCase],
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> list[ModelResult]:
    """Run every model on every case and score it against the reference labels.

    The runner is the app's (:func:`kneeseg_app.core.evaluation.evaluate_cases`): the same
    reading, grid check, timing and metrics as the batch window and the self-test.
    """
    names = unique_names([m.name for m in models])
    named = [Predictor(name, m.predict, m.label_names) for m, name in zip(models, names)]
    run = evaluate_cases(cases, named, progress, cancel, keep_going=False)
    if run.cancelled:
        raise Cancelled("Evaluation cancelled.")
    results = []
    for name in names:
        result = ModelResult(name)
        for score in run.for_model(name):
            result.cases.append(score.case_id)
            result.metrics.append(score.metrics)
            result.seconds.append(score.seconds)
            result.cpu_seconds.append(score.cpu_seconds)
        results.append(result)
    return results


def write_report(results: Sequence[ModelResult], out_dir: str | os.PathLike[str], plots: bool = True) -> Path:
    """Write the per-case CSV, both tables (Markdown and CSV), timing, plots and summary.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    _text(out / "per_case.csv", per_case_csv(results))
    for name, metrics, kind in (("table1", TABLE1_METRICS, "mean"), ("table2", TABLE2_METRICS, "median")):
        header, rows = comparison_table(results, metrics, kind)
        _text(out / f"{name}.md", markdown(header, rows, title=_TITLES[name]))
        _text(out / f"{name}.csv", _csv(header, rows))
    _text(out / "timing.md", timing_markdown(results))
    _text(out / "summary.json", json.dumps(summary_json(results), indent=2, allow_nan=False) + "\n")
    if plots:
        write_boxplots(results, out)
    return out


_TITLES = {
    "table1": "Table 1: mean ± standard deviation (ASSD and HD in mm)",
    "table2": "Table 2: median [interquartile range Q1–Q3] (distances in mm)",
}


def comparison_table(
    results: Sequence[ModelResult], metrics: Sequence[str], kind: str
) -> tuple[list[str], list[list[str]]]:
    """Rows bone x metric, one column per model: 'mean ± std' or 'median [Q1–Q3]'."""
    header = ["Bone", "Metric", *[r.model for r in results]]
    rows = []
    for bone in BONES:
        for metric in metrics:
            info = METRIC_INFO[metric]
            label = f"{info.name} ({info.unit})" if info.unit else info.name
            cells = []
            for result in results:
                row = result.row(bone, metric)
                cells.append(row.mean_sd_text(3) if kind == "mean" else row.median_iqr_text(3))
            rows.append([bone, label, *cells])
    return header, rows


def timing_markdown(results: Sequence[ModelResult]) -> str:
    header = ["Model", "Wall time per volume (s)", "CPU time per volume (s)", "Cases"]
    rows = [
        [
            r.model,
            summarize_values("", "", r.seconds).mean_sd_text(2),
            summarize_values("", "", r.cpu_seconds).mean_sd_text(2),
            str(len(r.cases)),
        ]
        for r in results
    ]
    return markdown(header, rows, title="Inference time per volume (mean ± standard deviation)")


def per_case_csv(results: Sequence[ModelResult]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["model", "case", "bone", *METRIC_INFO, "seconds", "cpu_seconds"])
    for r in results:
        for case, metrics, wall, cpu in zip(r.cases, r.metrics, r.seconds, r.cpu_seconds):
            for bone, values in metrics.items():
                writer.writerow(
                    [
                        r.model,
                        case,
                        bone,
                        *(format(v, ".10g") for v in values.as_dict().values()),
                        f"{wall:.3f}",
                        f"{cpu:.3f}",
                    ]
                )
    return buffer.getvalue()


def summary_json(results: Sequence[ModelResult]) -> dict:
    def clean(value: float) -> float | str | None:
        return value if math.isfinite(value) else (None if math.isnan(value) else "inf")

    return {
        "models": [
            {
                "model": r.model,
                "cases": r.cases,
                "summary": [
                    {k: clean(v) if isinstance(v, float) else v for k, v in row.as_dict().items()}
                    for row in r.summary()
                ],
                "seconds": [round(s, 3) for s in r.seconds],
                "cpu_seconds": [round(s, 3) for s in r.cpu_seconds],
            }
            for r in results
        ]
    }


def manifest_validation(result: ModelResult, description: str) -> ValidationInfo:
    """The manifest's validation block from a test-set evaluation (mean over cases)."""

    def means(metric: str) -> dict[str, float]:
        return {bone: round(result.row(bone, metric).mean, 4) for bone in BONES}

    return ValidationInfo(
        cases=len(result.cases),
        dice=means("dice"),
        hd95_mm=means("hd95_mm"),
        assd_mm=means("assd_mm"),
        source=description,
    )


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]], title: str = "") -> str:
    lines = [f"### {title}", ""] if title else []
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _csv(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _text(path: Path, text: str) -> None:
    write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_boxplots(results: Sequence[ModelResult], out: Path) -> list[Path]:
    """One PNG per metric: a box per model and bone (finite values only)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for metric in TABLE2_METRICS:
        fig, ax = plt.subplots(figsize=(2.0 + 1.6 * len(results), 4.0))
        data, labels = [], []
        for bone in BONES:
            for r in results:
                values = np.array([m[bone].as_dict()[metric] for m in r.metrics if bone in m], dtype=float)
                data.append(values[np.isfinite(values)])
                labels.append(f"{bone}\n{r.model[:28]}")
        ax.boxplot(data, tick_labels=labels, showmeans=True)
        info = METRIC_INFO[metric]
        ax.set_ylabel(f"{info.name} ({info.unit})" if info.unit else info.name)
        ax.tick_params(axis="x", labelsize=7)
        fig.tight_layout()
        path = out / f"boxplot_{metric}.png"
        write_atomic(path, lambda tmp, figure=fig: figure.savefig(tmp, dpi=110, format="png"))
        plt.close(fig)
        paths.append(path)
    return paths


__all__ = [
    "ModelResult",
    "EvalCase",
    "LoadedCase",
    "file_predictor",
    "unique_names",
    "evaluate",
    "manifest_validation",
    "nnunet_run_predictor",
    "package_predictor",
    "eval_cases_from_dataset",
    "write_report",
]
