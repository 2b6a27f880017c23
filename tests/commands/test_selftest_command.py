"""``kneeseg selftest`` prints each check, the metrics and the time, and exits 0 only when all pass."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from onnx_factory import write_model_package

from kneeseg_app import cli
from kneeseg_app.commands import selftest
from kneeseg_app.core import paths


def run_command(argv: list[str]) -> int:
    """The selftest command as the CLI runs it (parsed by its own ``register``)."""
    parser = argparse.ArgumentParser(prog="kneeseg")
    selftest.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["selftest", *argv])
    return args.func(args)


def test_selftest_is_a_registered_kneeseg_command() -> None:
    assert selftest in cli.COMMANDS
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["selftest", "--help"])
    assert exit_info.value.code == 0


def test_passes_and_prints_metrics_and_time_when_every_part_works(tmp_path: Path, capsys) -> None:
    folder = write_model_package(tmp_path / "tiny", name="tiny", patch_size=(128, 128), target_spacing=(2.0, 2.0))
    assert run_command(["--model", str(folder), "--min-dice", "0", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "KneeSeg 0.1.0 self-test (source" in out
    assert "[PASS] decoders" in out and "jpeg2000-lossless: 3 slices decoded exactly" in out
    assert "[PASS] model     tiny 0.0.1" in out
    assert "[PASS] demo" in out and "femur: Dice" in out and "tibia: Dice" in out
    assert "needs >= 0.000" in out
    assert out.rstrip().splitlines()[-1].startswith("Self-test PASSED in ")


def test_exits_1_and_names_the_failed_checks_without_a_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("KNEESEG_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(paths, "bundled_models_dir", lambda: tmp_path / "none")
    assert run_command([]) == 1
    out = capsys.readouterr().out
    assert "[PASS] decoders" in out
    assert "[FAIL] model     No segmentation model is installed." in out
    assert "[FAIL] demo      not run: no usable model" in out
    assert "Self-test FAILED (model, demo)" in out
