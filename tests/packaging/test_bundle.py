"""The one-folder bundle for hospital PCs: built, unpacked like an engineer would, and run.

Builds with ``python packaging/build.py`` (PyInstaller; about 1-2 minutes), unpacks the
versioned archive under a path with spaces and accents, makes it read-only, and runs the
frozen self-test and the cold-start probe there as a user with a fresh home folder.
Also checks what must and must not be inside. Slow, but part of CI.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging_helpers import PACKAGING, REPO_ROOT, child_env, user_cache_dir

from kneeseg_app import __version__

pytestmark = pytest.mark.slow

MAX_UNPACKED_MIB = 700
MAX_ARCHIVE_MIB = 300
MAX_COLD_START_S = 5.0
BUILD_TIMEOUT_S = 480


@dataclass(frozen=True)
class Build:
    bundle: Path
    archive: Path
    seconds: float


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Build:
    out = tmp_path_factory.mktemp("build")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KNEESEG_HOME")}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, str(PACKAGING / "build.py"), "--dist", str(out / "dist"), "--work", str(out / "work")],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
        cwd=REPO_ROOT,
        timeout=BUILD_TIMEOUT_S,
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, f"build failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    archives = [p for p in (out / "dist").iterdir() if p.name.endswith((".tar.gz", ".zip"))]
    assert len(archives) == 1, archives
    print(done.stdout)
    return Build(out / "dist" / "KneeSeg", archives[0], seconds)


def _unpack(archive: Path, target: Path) -> None:
    if archive.name.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(target)
        return
    with tarfile.open(archive) as t:
        t.extractall(target, filter="tar")


def _set_writable(folder: Path, writable: bool) -> None:
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


@pytest.fixture(scope="module")
def installed(built: Build, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The archive unpacked under 'Kné Seg test/' and made read-only (as a locked-down PC's Program Files)."""
    root = tmp_path_factory.mktemp("pc") / "Kné Seg test"
    root.mkdir()
    _unpack(built.archive, root)
    bundle = root / f"KneeSeg-{__version__}"
    _set_writable(bundle, False)
    try:
        yield bundle
    finally:
        _set_writable(bundle, True)


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if not p.is_symlink()
    }


def exe(bundle: Path, name: str) -> str:
    return str(bundle / (f"{name}.exe" if sys.platform == "win32" else name))


def run_frozen(
    bundle: Path, name: str, args: list[str], home: Path, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    home.mkdir(parents=True, exist_ok=True)
    return subprocess.run(
        [exe(bundle, name), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=child_env(home),
        cwd=home,
        timeout=timeout,
    )


def mib(n: int) -> float:
    return n / 2**20


# ----- the build's products -------------------------------------------------------------
def test_build_makes_a_versioned_archive_within_the_size_targets(built: Build, build_script) -> None:
    assert built.archive.name == build_script.archive_name(__version__, build_script.platform_tag())
    unpacked = mib(build_script.folder_size(built.bundle))
    packed = mib(built.archive.stat().st_size)
    print(f"\nbundle {unpacked:.0f} MiB unpacked, archive {packed:.0f} MiB, build+archive {built.seconds:.0f} s")
    assert unpacked < MAX_UNPACKED_MIB
    assert packed < MAX_ARCHIVE_MIB


def test_bundle_holds_no_trainer_stack_plotting_or_unused_qt(built: Build, build_script) -> None:
    assert build_script.forbidden_content(built.bundle) == []
    modules = build_script.top_level(build_script.bundle_modules(built.bundle))
    assert modules.isdisjoint({"torch", "torchvision", "nnunetv2", "trainer", "matplotlib", "pandas", "onnx"})
    assert {"kneeseg_app", "onnxruntime", "SimpleITK", "pydicom", "PySide6", "pyqtgraph", "scipy"} <= modules
    files = build_script.bundle_files(built.bundle)
    assert not [f for f in files if "webengine" in f.lower() or "qt6quick" in f.lower() or "libtorch" in f.lower()]


def test_bundle_holds_everything_a_pc_without_python_needs(built: Build, build_script) -> None:
    assert build_script.missing_content(built.bundle) == []


def test_bundle_ships_the_licence_notices(built: Build) -> None:
    notices = (built.bundle / "THIRD-PARTY-NOTICES.txt").read_text(encoding="utf-8")
    for expected in (
        "LGPL-3.0",
        "Apache-2.0",
        "onnxruntime",
        "numpy",
        "pyqtgraph",
        "pydicom",
        "SimpleITK",
        "synthetic",
    ):
        assert expected.lower() in notices.lower(), expected
    assert "(no model is bundled)" not in notices
    licences = built.bundle / "licenses"
    assert (licences / "LGPL-3.0.txt").is_file()
    assert (licences / "pyside6-essentials" / "LGPL-3.0.txt").is_file()
    assert any((licences / "simpleitk").iterdir())
    assert (licences / "onnxruntime" / "LICENSE").is_file()
    assert (built.bundle / "README.txt").is_file()


# ----- running the frozen app -----------------------------------------------------------
def test_both_executables_print_the_version(installed: Path, tmp_path: Path) -> None:
    for name in ("KneeSeg", "kneeseg-cli"):
        done = run_frozen(installed, name, ["--version"], tmp_path / "home", timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == f"KneeSeg {__version__}"


def test_console_executable_lists_the_selftest_command(installed: Path, tmp_path: Path) -> None:
    done = run_frozen(installed, "kneeseg-cli", ["selftest", "--help"], tmp_path / "home", timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


def test_frozen_cli_reads_a_real_jpeg2000_ct(installed: Path, tmp_path: Path, real_dicom: Path) -> None:
    done = run_frozen(
        installed, "kneeseg-cli", ["info", str(real_dicom / "siemens-jpeg2000-abdomen")], tmp_path / "home", timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "512 x 512 x 20 voxels" in done.stdout
    assert "-1024 .. 1839" in done.stdout


def test_frozen_selftest_passes_from_a_read_only_folder_with_spaces_and_accents(
    installed: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home of a user"
    before = snapshot(installed)
    started = time.perf_counter()
    done = run_frozen(installed, "KneeSeg", ["--selftest"], home)
    seconds = time.perf_counter() - started
    print(f"\n{done.stdout}\nfrozen self-test: {seconds:.1f} s")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "self-test (frozen" in done.stdout and "Kné Seg test" in done.stdout
    for check in ("decoders", "model", "demo", "window"):
        assert f"[PASS] {check}" in done.stdout
    assert "femur: Dice" in done.stdout and "tibia: Dice" in done.stdout
    assert "Self-test PASSED" in done.stdout
    assert snapshot(installed) == before, "the self-test wrote into the program folder"
    assert list(user_cache_dir(home).glob("demo-*")), "the demo case belongs in the user's cache"


def test_cold_start_to_a_shown_window_is_quick(installed: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    done = run_frozen(installed, "KneeSeg", ["--startup-probe"], tmp_path / "home", timeout=60)
    seconds = time.perf_counter() - started
    print(f"\n{done.stdout.strip()} (process wall time {seconds:.2f} s)")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "window shown after" in done.stdout
    assert seconds < MAX_COLD_START_S


def test_frozen_selftest_fails_without_its_model_or_its_dicom_samples(built: Build, tmp_path: Path) -> None:
    resources = built.bundle / "_internal" / "resources"
    moved: list[tuple[Path, Path]] = []
    try:
        for name in ("models",):
            moved.append((resources / name, resources.parent / f"{name}.moved"))
            os.rename(*moved[-1])
        done = run_frozen(built.bundle, "KneeSeg", ["--selftest"], tmp_path / "home", timeout=120)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "[PASS] decoders" in done.stdout and "[FAIL] model" in done.stdout

        moved.append((resources / "selftest", resources.parent / "selftest.moved"))
        os.rename(*moved[-1])
        done = run_frozen(built.bundle, "KneeSeg", ["--selftest"], tmp_path / "home", timeout=120)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "[FAIL] decoders" in done.stdout and "missing" in done.stdout
    finally:
        for original, away in reversed(moved):
            os.rename(away, original)
