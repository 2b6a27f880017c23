"""Specification of multi-case metric summaries (kneeseg_app.core.metrics.summary).

Per bone and metric: mean ± SD (sample SD, n - 1) and median [Q1–Q3] (numpy linear
quantiles) over the FINITE values; infinite and NaN values are counted in n_inf and
n_nan, never averaged in.
"""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from kneeseg_app.core import metrics
from kneeseg_app.core.errors import OutputError
from kneeseg_app.core.metrics import METRIC_INFO, BoneMetrics, compute_metrics
from kneeseg_app.core.metrics.summary import (
    SUMMARY_COLUMNS,
    SummaryRow,
    summarize,
    summarize_values,
    write_cases_csv,
    write_summary_csv,
    write_summary_json,
)

SPACING = (2.5, 0.7, 0.7)


def bone_metrics(dice: float, hausdorff: float = 5.0, **others: float) -> BoneMetrics:
    values = dict.fromkeys(METRIC_INFO, 1.0) | {"dice": dice, "hausdorff_mm": hausdorff} | others
    return BoneMetrics(**values)


def rows_by_key(rows: list[SummaryRow]) -> dict[tuple[str, str], SummaryRow]:
    return {(row.bone, row.metric): row for row in rows}


# ----- statistics ------------------------------------------------------------------


def test_summary_gives_mean_sample_sd_median_and_quartiles():
    cases = [{"femur": bone_metrics(d)} for d in (0.90, 0.80, 0.70, 0.60)]
    row = rows_by_key(summarize(cases))[("femur", "dice")]
    assert row.n == 4 and row.n_inf == 0 and row.n_nan == 0
    assert row.mean == pytest.approx(0.75)
    assert row.std == pytest.approx(math.sqrt(((0.15**2 + 0.05**2) * 2) / 3))  # n - 1
    assert row.median == pytest.approx(0.75)
    assert (row.q1, row.q3) == (pytest.approx(0.675), pytest.approx(0.825))  # linear interpolation


def test_infinite_values_are_left_out_of_every_statistic_and_counted():
    cases = [{"tibia": bone_metrics(0.9, hausdorff=h)} for h in (2.0, 4.0, math.inf, 6.0)]
    row = rows_by_key(summarize(cases))[("tibia", "hausdorff_mm")]
    assert (row.n, row.n_inf, row.n_nan) == (3, 1, 0)
    assert (row.mean, row.median, row.q1, row.q3) == (4.0, 4.0, 3.0, 5.0)
    assert row.std == pytest.approx(2.0)


def test_nan_values_are_left_out_and_counted_separately():
    row = summarize_values("femur", "dice", [0.5, math.nan, 0.7, -math.inf])
    assert (row.n, row.n_inf, row.n_nan) == (2, 1, 1)
    assert row.mean == pytest.approx(0.6)


def test_one_value_has_no_standard_deviation_and_none_has_no_statistics():
    single = summarize_values("femur", "dice", [0.8])
    assert single.mean == single.median == single.q1 == single.q3 == 0.8
    assert math.isnan(single.std)
    none = summarize_values("femur", "hd95_mm", [math.inf, math.inf])
    assert (none.n, none.n_inf) == (0, 2)
    assert all(math.isnan(v) for v in (none.mean, none.std, none.median, none.q1, none.q3))
    assert none.unit == "mm"


def test_rows_come_bone_by_bone_in_metric_info_order():
    cases = [{"femur": bone_metrics(0.9), "tibia": bone_metrics(0.8)}, {"tibia": bone_metrics(0.7)}]
    rows = summarize(cases)
    assert [(r.bone, r.metric) for r in rows] == [(b, m) for b in ("femur", "tibia") for m in METRIC_INFO]
    assert rows_by_key(rows)[("femur", "dice")].n == 1  # a case without a bone does not count for it
    assert rows_by_key(rows)[("tibia", "dice")].n == 2


def test_texts_for_tables_show_left_out_cases():
    row = summarize_values("femur", "hausdorff_mm", [2.0, 4.0, math.inf])
    assert row.mean_sd_text(2) == "3.00 ± 1.41 (+1 inf)"
    assert row.median_iqr_text(1) == "3.0 [2.5–3.5] (+1 inf)"
    assert summarize_values("femur", "dice", [0.5, 0.5]).mean_sd_text(1) == "0.5 ± 0.0"


def test_summary_of_real_computed_cases_matches_the_per_case_values():
    rng = np.random.default_rng(0)
    cases = []
    for _ in range(3):
        reference = np.zeros((12, 30, 30), np.uint8)
        reference[2:10, 5:25, 5:15] = 1
        reference[2:10, 5:25, 16:26] = 2
        prediction = np.roll(reference, int(rng.integers(1, 3)), axis=1)
        cases.append(compute_metrics(prediction, reference, SPACING))
    row = rows_by_key(summarize(cases))[("femur", "dice")]
    assert row.mean == pytest.approx(np.mean([c["femur"].dice for c in cases]))


def test_summary_api_is_reachable_from_the_metrics_module():
    assert metrics.summarize is summarize
    assert metrics.write_summary_csv is write_summary_csv
    with pytest.raises(AttributeError):
        metrics.no_such_name  # noqa: B018


# ----- files -------------------------------------------------------------------------


def sample_rows() -> list[SummaryRow]:
    cases = [{"femur": bone_metrics(0.9, hausdorff=math.inf)}, {"femur": bone_metrics(0.8, hausdorff=3.0)}]
    return summarize(cases)


def test_summary_csv_has_one_row_per_bone_and_metric(tmp_path):
    path = write_summary_csv(sample_rows(), tmp_path / "summary.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert tuple(table[0]) == SUMMARY_COLUMNS
    assert len(table) == len(METRIC_INFO)
    dice = next(r for r in table if r["metric"] == "dice")
    assert (dice["bone"], int(dice["n"]), float(dice["mean"])) == ("femur", 2, pytest.approx(0.85))
    hausdorff = next(r for r in table if r["metric"] == "hausdorff_mm")
    assert (hausdorff["unit"], hausdorff["n"], hausdorff["n_inf"], hausdorff["std"]) == ("mm", "1", "1", "nan")


def test_summary_json_is_strict_json_with_null_for_missing_statistics(tmp_path):
    path = write_summary_json(sample_rows(), tmp_path / "summary.json")

    def refuse(constant: str) -> None:
        raise AssertionError(f"non-standard JSON constant {constant}")

    data = json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)
    assert data["conventions"] == metrics.CONVENTIONS
    hausdorff = data["summary"]["femur"]["hausdorff_mm"]
    assert hausdorff["n"] == 1 and hausdorff["n_inf"] == 1 and hausdorff["std"] is None
    assert data["summary"]["femur"]["dice"]["mean"] == pytest.approx(0.85)


def test_cases_csv_has_one_row_per_case_and_bone_with_every_metric(tmp_path):
    cases = [
        {"femur": bone_metrics(0.91, hausdorff=math.inf), "tibia": bone_metrics(0.88)},
        {"femur": bone_metrics(0.123456789012), "tibia": bone_metrics(0.5)},
    ]
    path = write_cases_csv(["case-A", "case-B"], cases, tmp_path / "out" / "cases.csv")
    with path.open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["case", "bone", *METRIC_INFO]
    assert [(r["case"], r["bone"]) for r in table] == [
        ("case-A", "femur"),
        ("case-A", "tibia"),
        ("case-B", "femur"),
        ("case-B", "tibia"),
    ]
    assert table[0]["hausdorff_mm"] == "inf"
    assert float(table[2]["dice"]) == pytest.approx(0.123456789012, rel=1e-9)


def test_cases_csv_needs_one_id_per_case(tmp_path):
    with pytest.raises(ValueError):
        write_cases_csv(["only-one"], [{}, {}], tmp_path / "cases.csv")


def test_writes_are_atomic_and_can_refuse_to_overwrite(tmp_path):
    target = tmp_path / "summary.csv"
    target.write_text("keep me", encoding="utf-8")
    with pytest.raises(OutputError):
        write_summary_csv(sample_rows(), target, overwrite=False)
    assert target.read_text(encoding="utf-8") == "keep me"
    write_summary_json(sample_rows(), tmp_path / "summary.json")
    write_summary_csv(sample_rows(), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["summary.csv", "summary.json"]  # no temporary files left
    assert target.read_text(encoding="utf-8").startswith("bone,metric,")
