"""Summaries of segmentation metrics over many cases, as the study reports them.

Per bone and metric: mean ± standard deviation and median [interquartile range]. How
non-finite values are handled is explicit, because a bone missed in one case has an
infinite Hausdorff distance (see :data:`~kneeseg_app.core.metrics.CONVENTIONS`):

* Every statistic uses the **finite** values only; ``n`` counts them.
* ``n_inf`` counts the cases left out because the value was +/-inf (bone absent from
  one of the two segmentations), ``n_nan`` those left out as NaN. A table must show
  ``n_inf`` next to the mean; it is never silently folded in.
* ``std`` is the sample standard deviation (ddof = 1); NaN when ``n < 2``.
  Quartiles use numpy's default linear interpolation. All statistics are NaN when
  ``n == 0``.

Outputs: a summary CSV (one row per bone x metric), the same as JSON (NaN written
as ``null``), and a per-case CSV (one row per case x bone). All writes are atomic.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from kneeseg_app.core.atomic import write_atomic
from kneeseg_app.core.metrics import METRIC_INFO, BoneMetrics

SUMMARY_COLUMNS = ("bone", "metric", "unit", "n", "n_inf", "n_nan", "mean", "std", "median", "q1", "q3")


@dataclass(frozen=True)
class SummaryRow:
    """Statistics of one metric of one bone over the finite values of all cases."""

    bone: str
    metric: str
    unit: str
    n: int
    n_inf: int
    n_nan: int
    mean: float
    std: float
    median: float
    q1: float
    q3: float

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def mean_sd_text(self, digits: int = 3) -> str:
        """'0.962 ± 0.011', with '(+2 inf)' when infinite cases were left out."""
        return f"{_num(self.mean, digits)} ± {_num(self.std, digits)}{self._excluded_note()}"

    def median_iqr_text(self, digits: int = 3) -> str:
        """'0.965 [0.955–0.972]' (median [Q1–Q3]), with the same note as the mean."""
        return f"{_num(self.median, digits)} [{_num(self.q1, digits)}–{_num(self.q3, digits)}]{self._excluded_note()}"

    def _excluded_note(self) -> str:
        parts = [f"+{self.n_inf} inf"] * bool(self.n_inf) + [f"+{self.n_nan} NaN"] * bool(self.n_nan)
        return f" ({', '.join(parts)})" if parts else ""


def summarize(cases: Sequence[Mapping[str, BoneMetrics]]) -> list[SummaryRow]:
    """One row per bone x metric over ``cases`` (each: bone name -> metrics).

    Bones appear in the order first met; metrics in :data:`METRIC_INFO` order. A case
    without a bone simply does not count for that bone.
    """
    bones: dict[str, list[BoneMetrics]] = {}
    for case in cases:
        for bone, metrics in case.items():
            bones.setdefault(bone, []).append(metrics)
    return [
        summarize_values(bone, key, [getattr(m, key) for m in per_case])
        for bone, per_case in bones.items()
        for key in METRIC_INFO
    ]


def summarize_values(bone: str, metric: str, values: Sequence[float]) -> SummaryRow:
    """Statistics of one metric's values; non-finite values are counted, not used."""
    data = np.asarray(values, dtype=np.float64)
    finite = data[np.isfinite(data)]
    n = int(finite.size)
    nan = math.nan
    if n:
        q1, median, q3 = (float(v) for v in np.percentile(finite, [25, 50, 75]))
        mean = float(finite.mean())
        std = float(finite.std(ddof=1)) if n > 1 else nan
    else:
        q1 = median = q3 = mean = std = nan
    return SummaryRow(
        bone=bone,
        metric=metric,
        unit=METRIC_INFO[metric].unit if metric in METRIC_INFO else "",
        n=n,
        n_inf=int(np.count_nonzero(np.isinf(data))),
        n_nan=int(np.count_nonzero(np.isnan(data))),
        mean=mean,
        std=std,
        median=median,
        q1=q1,
        q3=q3,
    )


def write_summary_csv(rows: Sequence[SummaryRow], path: str | os.PathLike[str], overwrite: bool = True) -> Path:
    """One line per bone x metric with :data:`SUMMARY_COLUMNS`; NaN written as 'nan'."""
    table = [[_cell(getattr(row, column)) for column in SUMMARY_COLUMNS] for row in rows]
    return _write_csv(path, SUMMARY_COLUMNS, table, overwrite)


def write_summary_json(rows: Sequence[SummaryRow], path: str | os.PathLike[str], overwrite: bool = True) -> Path:
    """``{"conventions": ..., "summary": {bone: {metric: {n, n_inf, ..., q3}}}}``; NaN -> null."""
    from kneeseg_app.core.metrics import CONVENTIONS

    summary: dict[str, dict[str, dict[str, object]]] = {}
    for row in rows:
        stats = {k: _json_value(v) for k, v in row.as_dict().items() if k not in ("bone", "metric")}
        summary.setdefault(row.bone, {})[row.metric] = stats
    text = json.dumps({"conventions": CONVENTIONS, "summary": summary}, indent=2, allow_nan=False)
    return write_atomic(path, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"), overwrite=overwrite)


def write_cases_csv(
    case_ids: Sequence[str],
    cases: Sequence[Mapping[str, BoneMetrics]],
    path: str | os.PathLike[str],
    overwrite: bool = True,
) -> Path:
    """One line per case x bone with every metric (inf written as 'inf')."""
    if len(case_ids) != len(cases):
        raise ValueError(f"{len(case_ids)} case ids for {len(cases)} cases")
    header = ("case", "bone", *METRIC_INFO)
    table = [
        [str(case_id), bone, *(_cell(v) for v in metrics.as_dict().values())]
        for case_id, case in zip(case_ids, cases)
        for bone, metrics in case.items()
    ]
    return _write_csv(path, header, table, overwrite)


# ----- helpers ----------------------------------------------------------------


def _write_csv(path: str | os.PathLike[str], header: Sequence[str], table: list[list[str]], overwrite: bool) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(table)
    text = buffer.getvalue()
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=overwrite)


def _cell(value: object) -> str:
    """CSV text: floats with 10 significant digits ('nan', 'inf' as Python writes them)."""
    if isinstance(value, float):
        return format(value, ".10g")
    return str(value)


def _json_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _num(value: float, digits: int) -> str:
    return f"{value:.{digits}f}" if math.isfinite(value) else str(value)
