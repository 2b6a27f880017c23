"""``packaging/build.py``: archive names, content checks, notices and archives (fast, no PyInstaller run)."""

from __future__ import annotations

import json
import os
import stat
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from kneeseg_app import __version__


def make_fake_bundle(root: Path, files: list[str]) -> Path:
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    return root


def test_archive_names_carry_version_and_platform(build_script) -> None:
    assert build_script.platform_tag("Linux", "x86_64") == "linux-x86_64"
    assert build_script.platform_tag("Windows", "AMD64") == "windows-x86_64"
    assert build_script.platform_tag("Darwin", "arm64") == "macos-arm64"
    assert build_script.archive_name("0.1.0", "linux-x86_64") == "KneeSeg-0.1.0-linux-x86_64.tar.gz"
    assert build_script.archive_name("0.1.0", "windows-x86_64") == "KneeSeg-0.1.0-windows-x86_64.zip"
    assert build_script.app_version() == __version__


def test_forbidden_files_are_reported_by_path(build_script, tmp_path: Path) -> None:
    bundle = make_fake_bundle(
        tmp_path / "KneeSeg",
        [
            "_internal/torch/lib/libtorch_cpu.so",
            "_internal/PySide6/Qt6WebEngineCore.dll",
            "_internal/PySide6/Qt/lib/libQt6Quick.so.6",
            "_internal/matplotlib/__init__.pyc",
            "_internal/PySide6/Qt/lib/libQt6Widgets.so.6",
            "_internal/numpy/core.so",
        ],
    )
    found = build_script.forbidden_content(bundle)
    assert "file _internal/torch/lib/libtorch_cpu.so" in found
    assert "file _internal/PySide6/Qt6WebEngineCore.dll" in found
    assert "file _internal/PySide6/Qt/lib/libQt6Quick.so.6" in found
    assert "module matplotlib" in found
    assert not any("Widgets" in f or "numpy" in f for f in found)


def test_a_clean_bundle_has_nothing_forbidden(build_script, tmp_path: Path) -> None:
    bundle = make_fake_bundle(tmp_path / "KneeSeg", ["_internal/numpy/x.so", "_internal/PySide6/Qt/lib/libQt6Gui.so.6"])
    assert build_script.forbidden_content(bundle) == []


def test_missing_content_names_what_a_bundle_lacks(build_script, tmp_path: Path) -> None:
    bundle = make_fake_bundle(tmp_path / "KneeSeg", ["_internal/resources/icons/kneeseg.png"])
    missing = build_script.missing_content(bundle)
    assert "a model package" in missing and "an ONNX network" in missing
    assert "the JPEG 2000 self-test sample" in missing
    assert "the icon" not in missing
    assert "the Python package onnxruntime" in missing and "the Python package kneeseg_app" in missing
    if sys.platform.startswith("linux"):
        assert "Qt's xcb platform plugin" in missing and "Qt's offscreen platform plugin" in missing


def test_notices_name_the_bundled_models_licence_and_fill_every_placeholder(build_script, tmp_path: Path) -> None:
    bundle = tmp_path / "KneeSeg"
    model = bundle / "_internal" / "resources" / "models" / "knee-demo"
    model.mkdir(parents=True)
    manifest = {
        "name": "knee-demo",
        "version": "1.2.0",
        "license": "CC-BY-4.0",
        "training": {"data": "synthetic phantoms"},
    }
    (model / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    notices = build_script.write_notices(bundle, [], "9.9.9").read_text(encoding="utf-8")
    assert "KneeSeg 9.9.9 - third-party notices" in notices
    assert "knee-demo 1.2.0" in notices and "licence:       CC-BY-4.0" in notices and "synthetic phantoms" in notices
    assert "LGPL-3.0" in notices and "replace" in notices
    assert "$" not in notices
    assert (bundle / "README.txt").is_file()


def test_every_licence_text_the_notices_point_to_is_shipped(build_script) -> None:
    for name in ("LGPL-3.0.txt", "GPL-3.0.txt", "Apache-2.0.txt", "PyOpenGL.txt"):
        text = (build_script.PACKAGING / "licenses" / name).read_text(encoding="utf-8")
        assert len(text) > 1000
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in (build_script.PACKAGING / "licenses" / "LGPL-3.0.txt").read_text(
        encoding="utf-8"
    )


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_archive_unpacks_into_one_versioned_folder_keeping_odd_names_and_exec_bits(
    build_script, tmp_path: Path, suffix: str
) -> None:
    bundle = make_fake_bundle(tmp_path / "KneeSeg", ["KneeSeg", "_internal/resources/Kné Seg data.txt"])
    os.chmod(bundle / "KneeSeg", 0o755)
    target = build_script.write_archive(bundle, tmp_path / "out" / f"KneeSeg-1.0-test{suffix}", "KneeSeg-1.0")
    assert target.is_file() and not list(target.parent.glob("*.part"))
    if suffix == ".zip":
        with zipfile.ZipFile(target) as archive:
            names = archive.namelist()
    else:
        with tarfile.open(target) as archive:
            names = archive.getnames()
            members = {m.name: m for m in archive.getmembers()}
            assert members["KneeSeg-1.0/KneeSeg"].mode & stat.S_IXUSR
    assert "KneeSeg-1.0/_internal/resources/Kné Seg data.txt" in names
    assert all(name.startswith("KneeSeg-1.0") for name in names)
