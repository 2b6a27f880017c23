"""The 512 x 512 x 300 timing benchmark renders every stress case on the grid issue 12 names, with the
case's own pins (the benchmark itself runs on demand: benchmarks/bench_knee_512.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kneeseg_app.core.phantom.draw_wide import draw_wide_params
from trainer.stress_suite import STRESS_SEED, suite_cases

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from bench_knee_512 import cases_512, summary  # noqa: E402


@pytest.fixture(scope="module")
def cases():
    return {c.case_id: c for c in cases_512(tuple(c.row for c in suite_cases(scale="quick")), ("chest",))}


def _grid(case):
    acquisition = draw_wide_params(case.seed, case.choices, shape_zyx=case.shape_zyx).acquisition
    return acquisition.shape_zyx, acquisition.spacing_zyx


def test_every_knee_case_of_the_suite_is_there_once_with_its_own_seed(cases) -> None:
    knees = [c for c in suite_cases(scale="quick", negatives=()) if not c.negative]
    assert sorted(c.case_id for c in knees) == sorted(k for k in cases if k.startswith("knee-"))
    assert all(c.seed >= STRESS_SEED for c in cases.values())


def test_a_plain_case_is_512_by_512_by_300_on_1_mm_slices(cases) -> None:
    case = next(c for c in cases.values() if c.row == "noise")
    shape, spacing = _grid(case)
    assert shape == (300, 512, 512) and spacing[0] == pytest.approx(1.0)


def test_pinned_slices_keep_their_spacing_within_1200_mm(cases) -> None:
    thick = next(c for c in cases.values() if c.label == "slices 5.0 mm")
    shape, spacing = _grid(thick)
    assert spacing[0] == pytest.approx(5.0) and shape == (241, 512, 512)
    thin = next(c for c in cases.values() if c.label == "slices 0.5 mm")
    shape, spacing = _grid(thin)
    assert shape == (300, 512, 512) and spacing[0] == pytest.approx(0.5)


def test_pinned_coverage_is_kept_and_sliced_into_300(cases) -> None:
    case = next(c for c in cases.values() if c.label == "1200 mm")
    shape, spacing = _grid(case)
    assert shape == (300, 512, 512) and (shape[0] - 1) * spacing[0] == pytest.approx(1200.0, rel=0.01)


def test_the_fov_matrix_row_keeps_its_field_of_view_on_512_pixels(cases) -> None:
    case = next(c for c in cases.values() if c.row == "fov-matrix" and "500 mm" in c.label)
    shape, spacing = _grid(case)
    assert shape[1:] == (512, 512) and spacing[1] * 512 == pytest.approx(500.0, rel=0.01)
    assert "512 px here" in case.label


def test_the_summary_gives_worst_over_median_for_knees_apart_from_negatives() -> None:
    rows = [
        {"case": f"knee-{i}", "row": "noise", "label": "x", "shape_zyx": [300, 512, 512], "seconds": s, "stages": {}}
        for i, s in enumerate((10.0, 12.0, 14.0))
    ] + [
        {
            "case": "chest-1",
            "row": "no knee: chest",
            "label": "chest",
            "shape_zyx": [300, 512, 512],
            "seconds": 40.0,
            "stages": {},
        }
    ]
    text = summary(rows)
    assert "knee cases: 3, median 12.0 s, worst 14.0 s" in text and "worst / median 1.17" in text
    assert "all cases: 4" in text and "worst 40.0 s" in text
