"""``kneeseg segment``: every requested output is checked before any work, and a gapped series needs --allow-gaps.

A refused output costs seconds, names the path the user typed, exits 2 and leaves
nothing behind (no label map, no folder, no temporary file). Permissions are not
tested with chmod: the tests may run as root, which ignores them; a path below a
regular file and an immutable folder fail for root too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kneeseg_app.cli import main
from kneeseg_app.core import paths

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dicom_factory import CTSeries  # noqa: E402
from onnx_factory import write_model_package  # noqa: E402


def _knee_hu(points_lps: np.ndarray) -> np.ndarray:
    p = np.asarray(points_lps, dtype=np.float64)
    r = np.hypot(p[..., 0], p[..., 1])
    hu = np.where(r < 28, 40.0, -1000.0)
    hu = np.where((r < 12) & (p[..., 2] < 0), 1400.0, hu)
    return np.where((r < 12) & (p[..., 2] > 4), 600.0, hu)


_SERIES = CTSeries(
    n_slices=16,
    rows=72,
    columns=72,
    pixel_spacing=(0.8, 0.8),
    origin=(-28.4, -28.4, -16.0),
    slice_step=2.0,
    thickness=2.0,
    intensity=_knee_hu,
)


@pytest.fixture()
def dicom_ct(tmp_path: Path) -> Path:
    _SERIES.but().write(tmp_path / "ct")
    return tmp_path / "ct"


@pytest.fixture()
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bundled = tmp_path / "bundled"
    monkeypatch.setattr(paths, "bundled_models_dir", lambda: bundled)
    return write_model_package(
        bundled / "threshold", name="threshold", patch_size=(64, 64), target_spacing=(0.8, 0.8), default=True
    )


def _files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _refused(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["segment", *args, "--threads", "1"]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "Reading CT" not in captured.err  # refused before the CT is even read
    return err


@pytest.mark.parametrize("option", ["--out", "--meshes", "--seg"])
def test_an_output_below_a_regular_file_is_refused_before_any_work_naming_the_path(
    dicom_ct: Path, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    blocker = tmp_path / "results.txt"
    blocker.write_text("a file where a folder is expected")
    bad = blocker / ("labels.nii.gz" if option == "--out" else "meshes" if option == "--meshes" else "seg.dcm")
    out = tmp_path / "good" / "labels.nii.gz"
    args = {"--out": str(out), "--meshes": None, "--seg": None}
    args[option] = str(bad)
    before = _files_under(tmp_path)

    err = _refused([str(dicom_ct), *[a for k, v in args.items() if v for a in (k, v)]], capsys)

    assert str(bad) in err and "results.txt is a file, not a folder" in err
    assert _files_under(tmp_path) == before and not (tmp_path / "good").exists()


def test_meshes_into_the_input_folder_are_refused_before_the_label_map_is_written(
    dicom_ct: Path, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "labels.nii.gz"

    err = _refused([str(dicom_ct), "--out", str(out), "--meshes", str(dicom_ct / "meshes")], capsys)

    assert f"the bone surfaces {dicom_ct / 'meshes'} inside the input" in err
    assert not out.exists() and not (dicom_ct / "meshes").exists()


def test_existing_meshes_are_kept_unless_overwrite(
    dicom_ct: Path, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    precious = meshes / "TEST0001_femur.stl"  # the file this patient's femur gets
    precious.write_bytes(b"precious")

    err = _refused([str(dicom_ct), "--out", str(tmp_path / "l.nii.gz"), "--meshes", str(meshes)], capsys)

    assert "TEST0001_femur.stl already exists" in err and precious.read_bytes() == b"precious"


def test_two_outputs_with_one_name_are_refused(
    dicom_ct: Path, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "labels.nii.gz"

    err = _refused([str(dicom_ct), "--out", str(out), "--seg", str(out)], capsys)

    assert "would be the same file" in err and not out.exists()


def _chattr(flag: str, path: Path) -> bool:
    try:
        return subprocess.run(["chattr", flag, str(path)], capture_output=True, check=False).returncode == 0
    except OSError:
        return False


def test_an_immutable_output_folder_is_refused_before_any_work_even_for_root(
    dicom_ct: Path, model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An immutable folder stands for a read-only share: writing fails for every user, root included."""
    locked = tmp_path / "locked"
    locked.mkdir()
    if not _chattr("+i", locked):
        pytest.skip("this file system or user cannot make a folder immutable (chattr +i)")
    try:
        err = _refused([str(dicom_ct), "--out", str(locked / "labels.nii.gz")], capsys)
        assert f"the label map {locked / 'labels.nii.gz'}" in err and "is read-only" in err
        assert list(locked.iterdir()) == []
    finally:
        _chattr("-i", locked)


def test_a_series_with_a_missing_slice_is_refused_unless_allow_gaps(
    model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _SERIES.but().write(tmp_path / "ct", skip=(7,))
    out = tmp_path / "labels.nii.gz"

    assert main(["segment", str(tmp_path / "ct"), "--out", str(out), "--threads", "1"]) == 2
    err = capsys.readouterr().err
    assert "Slices are missing: a 4.0 mm gap between z = -4.0 mm and z = 0.0 mm" in err and not out.exists()

    assert main(["segment", str(tmp_path / "ct"), "--out", str(out), "--threads", "1", "--allow-gaps"]) in (0, 3)
    assert "warning: Interpolated 1 slice(s) across a 4.0 mm gap" in capsys.readouterr().err and out.exists()
