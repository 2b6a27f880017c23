"""Per-bone metrics with fixed conventions (``scores``) and summaries over many cases (``summary``)."""

from __future__ import annotations

from kneeseg_app.core.metrics.scores import (
    CONVENTIONS,
    METRIC_INFO,
    BoneMetrics,
    MetricInfo,
    compare_label_volumes,
    compute_metrics,
)
from kneeseg_app.core.metrics.summary import (
    SummaryRow,
    summarize,
    summarize_values,
    write_cases_csv,
    write_summary_csv,
    write_summary_json,
)

__all__ = [
    "CONVENTIONS",
    "METRIC_INFO",
    "BoneMetrics",
    "MetricInfo",
    "SummaryRow",
    "compare_label_volumes",
    "compute_metrics",
    "summarize",
    "summarize_values",
    "write_cases_csv",
    "write_summary_csv",
    "write_summary_json",
]
