"""The stress suite: fixed rows (one per variation axis) with seeds never trained on, worst row
first, a table for the model README and a summary in the manifest."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from kneeseg_app.core.model.manifest import read_manifest
from kneeseg_app.core.phantom.axes import AXES
from kneeseg_app.core.phantom.variation import NEGATIVE_KINDS, WideChoices
from trainer.cli import main
from trainer.stress import CaseOutcome, RowOutcome, markdown_table, replace_readme_section, summary
from trainer.stress_suite import NEGATIVE_SEED, STRESS_SEED, StressCase, rows_named, suite_cases

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from onnx_factory import write_model_package  # noqa: E402


def test_the_suite_has_one_row_per_axis_of_the_generator_and_every_negative() -> None:
    cases = suite_cases(negatives_per_kind=2)
    knees = [c for c in cases if not c.negative]
    assert {c.row for c in knees} == set(AXES)
    assert len(knees) == sum(len(values) for values in AXES.values())
    assert all(sum(c.row == axis for c in knees) >= 2 for axis in AXES)  # several cases per row
    seeds = [c.seed for c in cases]
    assert len(set(seeds)) == len(seeds)
    assert min(seeds) >= STRESS_SEED and max(seeds) < NEGATIVE_SEED + 100 * len(NEGATIVE_KINDS)
    assert min(seeds) >= 10000  # training and test sets use seeds below 10000
    assert {c.negative for c in cases if c.negative} == set(NEGATIVE_KINDS)


def test_the_full_suite_keeps_what_a_case_pins_and_caps_the_rest() -> None:
    by_label = {c.label: c.choices for c in suite_cases()}
    assert by_label["FOV 500 mm, 1024 px"].pixels == 1024 and by_label["FOV 500 mm, 1024 px"].coverage_mm == (
        30.0,
        30.0,
    )
    assert by_label["slices 5.0 mm"].slice_mm == 5.0 and by_label["slices 5.0 mm"].coverage_mm == (60.0, 60.0)
    assert by_label["1200 mm"].coverage_mm == (640.0, 560.0) and by_label["1200 mm"].slice_mm is None
    assert by_label["noise 60 HU"].noise_sd == 60.0 and by_label["noise 60 HU"].pixels == 384
    assert all(c.shape_zyx is not None for c in suite_cases(1, "quick"))
    assert rows_named(["metal", "POSITION"]) == ("position", "metal")


def _row(name: str, dice: float, negative: bool = False, ml: float = 0.0) -> RowOutcome:
    case = StressCase(name, name, 1, WideChoices(), "air" if negative else "")
    scores = {} if negative else {"femur": dice, "tibia": dice + 0.01}
    outcome = CaseOutcome(
        case,
        1.0,
        scores,
        dict.fromkeys(scores, 1.0),
        dict.fromkeys(scores, 0.2),
        {"femur": ml, "tibia": 0.0},
        largest_rule={"femur": 0.5, "tibia": 0.5},
    )
    return RowOutcome(name, negative, [outcome])


def test_rows_are_ordered_worst_first_and_summarised() -> None:
    rows = sorted(
        [_row("good", 0.99), _row("bad", 0.80), _row("air", 0, True, 3.0), _row("thigh", 0, True, 40.0)],
        key=lambda r: r.badness(["femur", "tibia"]),
    )
    assert [r.name for r in rows] == ["bad", "good", "thigh", "air"]
    table = markdown_table(rows, ["femur", "tibia"])
    assert table.index("| bad |") < table.index("| good |") < table.index("| thigh |")
    assert "0.500 / 0.500" in table and "largest-component rule" in table
    info = summary(rows, ["femur", "tibia"], "test")
    assert info.worst_row == "bad" and info.worst_dice == {"femur": 0.8, "tibia": 0.81}
    assert info.negatives_max_ml == 40.0 and info.cases == 4


def test_the_readme_section_is_replaced_not_repeated() -> None:
    once = replace_readme_section("# Model\n\ntext\n", "| a |\n", "## Stress")
    twice = replace_readme_section(once + "\nafter\n", "| b |\n", "## Stress")
    assert "| a |" not in twice and twice.count("## Stress") == 1 and twice.endswith("after\n")


def test_the_command_runs_a_tiny_suite_and_writes_table_readme_and_manifest(tmp_path: Path, capsys) -> None:
    package = write_model_package(tmp_path / "pkg", patch_size=(32, 32))
    out = tmp_path / "out"
    args = ["stress", "--package", str(package), "--out", str(out), "--quick", "--cases-per-row", "1"]
    args += ["--rows", "kernel", "legs", "--negatives", "air", "--negatives-per-kind", "1", "--threads", "1"]
    assert main([*args, "--write-readme", "--write-manifest"]) == 0
    table = (out / "stress.md").read_text(encoding="utf-8")
    assert "| kernel |" in table and "| legs |" in table and "no knee: air" in table
    cases = json.loads((out / "stress.json").read_text(encoding="utf-8"))["cases"]
    assert len(cases) == 3 and all(c["seconds"] >= 0 for c in cases)
    readme = (package / "README.md").read_text(encoding="utf-8")
    assert "Stress suite" in readme and "| kernel |" in readme
    stress = read_manifest(package / "manifest.json").stress
    assert stress.suite == "kneeseg-stress-1" and stress.cases == 3 and stress.rows == 3
    assert set(stress.worst_dice) == {"femur", "tibia"} and stress.negatives_max_ml is not None
    assert "worst row" in capsys.readouterr().out


def test_unknown_negative_kinds_are_one_line(tmp_path: Path, capsys) -> None:
    assert main(["stress", "--out", str(tmp_path), "--negatives", "elbow", "--quick"]) == 2
    assert "elbow" in capsys.readouterr().err
