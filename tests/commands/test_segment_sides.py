"""``kneeseg segment`` per side: volumes, meshes and metrics of each knee, files named after the patient."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from kneeseg_app.cli import main
from kneeseg_app.core import paths
from kneeseg_app.core.dicom.write import write_dicom_series
from kneeseg_app.core.phantom import generate_phantom

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dicom_factory import CTSeries  # noqa: E402
from onnx_factory import write_model_package  # noqa: E402
from test_segment import knee_hu  # noqa: E402

VOLUME_LINE = re.compile(r"^(right|left) (femur|tibia) +(\d+\.\d) mL$", re.M)


@pytest.fixture(scope="module")
def two_knees():
    return generate_phantom(5, shape_zyx=(48, 128, 128), both_legs=True)


@pytest.fixture()
def two_knee_dicom(two_knees, tmp_path: Path) -> Path:
    write_dicom_series(two_knees.ct, tmp_path / "ct", patient_id="P-123", patient_name="DOE^JOHN")
    return tmp_path / "ct"


@pytest.fixture()
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bundled = tmp_path / "bundled"
    monkeypatch.setattr(paths, "bundled_models_dir", lambda: bundled)
    return write_model_package(
        bundled / "threshold",
        name="threshold",
        patch_size=(64, 64),
        target_spacing=(0.8, 0.8),
        default=True,
        postprocessing={"largest_component": [1, 2], "min_fraction": 0.25, "rule": "largest"},  # both knees kept
    )


def _segment(*args: str) -> int:
    return main(["segment", *args, "--threads", "1", "--no-tta"])


def test_two_knees_give_four_volumes_and_four_meshes_named_after_the_patient(
    two_knee_dicom: Path, model: Path, tmp_path: Path, capsys
) -> None:
    meshes = tmp_path / "meshes"
    report = tmp_path / "r.json"
    code = _segment(
        str(two_knee_dicom), "--out", str(tmp_path / "l.nii.gz"), "--meshes", str(meshes), "--report", str(report)
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Knees: right and left" in out
    volumes = {f"{side} {bone}": float(ml) for side, bone, ml in VOLUME_LINE.findall(out)}
    assert set(volumes) == {"right femur", "right tibia", "left femur", "left tibia"}
    assert all(ml > 1 for ml in volumes.values())
    names = sorted(p.name for p in meshes.iterdir())
    assert names == ["P-123_left_femur.stl", "P-123_left_tibia.stl", "P-123_right_femur.stl", "P-123_right_tibia.stl"]
    sides = json.loads(report.read_text(encoding="utf-8"))["sides"]
    assert sides["knees"] == 2
    assert {b["name"]: b["volume_ml"] for b in sides["bones"]} == pytest.approx(volumes, abs=0.06)


def test_anonymous_names_leave_the_patient_id_out_of_the_mesh_files(
    two_knee_dicom: Path, model: Path, tmp_path: Path, capsys
) -> None:
    meshes = tmp_path / "meshes"
    assert (
        _segment(str(two_knee_dicom), "--out", str(tmp_path / "l.nii.gz"), "--meshes", str(meshes), "--anonymous-names")
        == 0
    )
    assert sorted(p.name for p in meshes.iterdir()) == [
        "left_femur.stl",
        "left_tibia.stl",
        "right_femur.stl",
        "right_tibia.stl",
    ]
    assert "P-123" not in capsys.readouterr().out


def test_an_existing_mesh_of_this_patient_and_side_is_refused_before_reading(
    two_knee_dicom: Path, model: Path, tmp_path: Path, capsys
) -> None:
    meshes = tmp_path / "meshes"
    meshes.mkdir()
    (meshes / "P-123_left_femur.stl").write_bytes(b"precious")
    (meshes / "OTHER_left_femur.stl").write_bytes(b"another patient")
    assert _segment(str(two_knee_dicom), "--out", str(tmp_path / "l.nii.gz"), "--meshes", str(meshes)) == 2
    captured = capsys.readouterr()
    assert "P-123_left_femur.stl already exists" in captured.err and "Reading CT" not in captured.err
    assert (meshes / "P-123_left_femur.stl").read_bytes() == b"precious"


def test_two_knees_against_a_two_knee_reference_are_scored_per_side(
    two_knee_dicom: Path, model: Path, tmp_path: Path, capsys
) -> None:
    """The first run's label map is the second run's reference: every side agrees exactly."""
    reference = tmp_path / "first.nii.gz"
    assert _segment(str(two_knee_dicom), "--out", str(reference)) == 0
    capsys.readouterr()
    assert _segment(str(two_knee_dicom), "--out", str(tmp_path / "l.nii.gz"), "--reference", str(reference)) == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("bone"))
    rows = [line.split() for line in lines[header + 1 : header + 5]]
    assert [" ".join(r[:2]) for r in rows] == ["right femur", "right tibia", "left femur", "left tibia"]
    assert [float(r[2]) for r in rows] == [1.0, 1.0, 1.0, 1.0]


def test_a_single_knee_names_its_side_from_the_laterality_element(model: Path, tmp_path: Path, capsys) -> None:
    CTSeries(
        n_slices=16,
        rows=72,
        columns=72,
        pixel_spacing=(0.8, 0.8),
        origin=(-28.4, -28.4, -16.0),
        slice_step=2.0,
        thickness=2.0,
        intensity=knee_hu,
        header={"Laterality": "R"},
    ).write(tmp_path / "ct")
    meshes = tmp_path / "meshes"
    assert _segment(str(tmp_path / "ct"), "--out", str(tmp_path / "l.nii.gz"), "--meshes", str(meshes)) == 0
    out = capsys.readouterr().out
    assert "Knee: right" in out
    assert re.search(r"^right femur +\d+\.\d mL$", out, re.M)
    assert sorted(p.name for p in meshes.iterdir()) == ["TEST0001_right_femur.stl", "TEST0001_right_tibia.stl"]
