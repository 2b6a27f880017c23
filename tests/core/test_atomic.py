"""Writes are all-or-nothing and never land in the user's input folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from kneeseg_app.core.atomic import ensure_not_inside, replace_folder, write_atomic, write_bytes_atomic
from kneeseg_app.core.errors import OutputError


def test_a_failed_write_leaves_neither_target_nor_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "labels.nii.gz"

    def crash(path: Path) -> None:
        path.write_bytes(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(target, crash)
    assert list(tmp_path.iterdir()) == []


def test_a_successful_write_replaces_the_target_whole(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "result.bin"
    write_bytes_atomic(target, b"first")
    write_bytes_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert [p.name for p in target.parent.iterdir()] == ["result.bin"]


def test_temporary_file_keeps_the_full_suffix_for_format_detection(tmp_path: Path) -> None:
    seen = []
    write_atomic(tmp_path / "x.nii.gz", lambda p: (seen.append(p.name), p.write_bytes(b"")))
    assert seen[0].endswith(".nii.gz")


def test_overwrite_false_refuses_an_existing_file(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("keep")
    with pytest.raises(OutputError, match="already exists"):
        write_bytes_atomic(target, b"new", overwrite=False)
    assert target.read_text(encoding="utf-8") == "keep"


def test_writing_into_the_input_folder_is_refused(tmp_path: Path) -> None:
    series = tmp_path / "ct"
    series.mkdir()
    (series / "IM0001").write_bytes(b"dicom")
    with pytest.raises(OutputError, match="input folder"):
        ensure_not_inside(series / "deep" / "labels.nii.gz", [series])
    with pytest.raises(OutputError):
        ensure_not_inside(series / "labels.nii.gz", [series / "IM0001"])
    ensure_not_inside(tmp_path / "out" / "labels.nii.gz", [series])


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_an_atomically_written_file_gets_the_permissions_of_any_new_file(tmp_path) -> None:
    """Not mkstemp's private 0600: a package installed for all users must stay readable."""
    umask = os.umask(0o022)
    os.umask(umask)
    target = write_bytes_atomic(tmp_path / "manifest.json", b"{}")
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_a_finished_folder_replaces_the_old_one_whole(tmp_path) -> None:
    """The target is the old folder or the new one at every moment; the old one is gone after."""
    target = tmp_path / "package"
    target.mkdir()
    (target / "old.onnx").write_bytes(b"old")
    finished = tmp_path / ".package.staging"
    finished.mkdir()
    (finished / "new.onnx").write_bytes(b"new")
    assert replace_folder(finished, target) == target
    assert [p.name for p in target.iterdir()] == ["new.onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["package"]
