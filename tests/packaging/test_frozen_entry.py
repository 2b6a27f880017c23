"""The frozen entry script routes both executables right, also when run from source."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from onnx_factory import write_model_package
from packaging_helpers import PACKAGING, REPO_ROOT, child_env

from kneeseg_app import __version__

ENTRY = PACKAGING / "kneeseg_entry.py"


def run_entry(args: list[str], home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = child_env(home, PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        [sys.executable, str(ENTRY), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
        timeout=timeout,
        cwd=home,
    )


def test_the_console_executable_is_told_apart_by_its_name(entry_script) -> None:
    assert entry_script.is_cli_executable("/opt/KneeSeg/kneeseg-cli")
    assert entry_script.is_cli_executable(r"C:\Program Files\KneeSeg\kneeseg-cli.exe".replace("\\", "/"))
    assert not entry_script.is_cli_executable("/opt/KneeSeg/KneeSeg")
    assert not entry_script.is_cli_executable("/usr/bin/python3")


def test_version_flag_prints_the_app_version(tmp_path: Path) -> None:
    done = run_entry(["--version"], tmp_path)
    assert done.returncode == 0
    assert done.stdout.strip() == f"KneeSeg {__version__}"


def test_selftest_flag_exits_non_zero_when_the_model_is_damaged(tmp_path: Path) -> None:
    package = write_model_package(tmp_path / "damaged")
    (package / "fold_0.onnx").write_bytes(b"not onnx")
    done = run_entry(["--selftest", "--model", str(package)], tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "[PASS] decoders" in done.stdout
    assert "[FAIL] model" in done.stdout and "checksum" in done.stdout
    assert "[PASS] window    main window shown after" in done.stdout
    assert "Self-test FAILED" in done.stdout
    assert "Traceback" not in done.stderr


def test_startup_probe_shows_the_main_window_and_reports_the_time(tmp_path: Path) -> None:
    done = run_entry(["--startup-probe"], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("startup-probe:"))
    assert "window shown after" in line and "(Qt platform offscreen)" in line
