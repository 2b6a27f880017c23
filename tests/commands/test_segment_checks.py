"""``kneeseg segment`` checks its input before any work and its result after: printed, reported, ``--strict``."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from kneeseg_app.cli import main
from kneeseg_app.core import paths
from kneeseg_app.core.checks import CHECK_ORDER
from kneeseg_app.core.phantom import generate_phantom

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from onnx_factory import write_model_package  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DOC = REPO / "docs" / "segment-report.md"
REAL_DICOM = REPO / "tests" / "data" / "real-dicom"


@pytest.fixture(scope="module")
def phantom():
    return generate_phantom(3, shape_zyx=(48, 128, 128))


@pytest.fixture()
def phantom_files(phantom, tmp_path: Path) -> tuple[Path, Path]:
    """The phantom CT and its reference labels as NIfTI files in an input folder."""
    folder = tmp_path / "input"
    folder.mkdir()
    sitk.WriteImage(phantom.ct.to_sitk(), str(folder / "ct.nii.gz"))
    sitk.WriteImage(phantom.labels.to_sitk(), str(folder / "ref.nii.gz"))
    return folder / "ct.nii.gz", folder / "ref.nii.gz"


@pytest.fixture()
def threshold_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A network that labels by HU only: on a knee it makes a result that fails its checks."""
    bundled = tmp_path / "bundled"
    monkeypatch.setattr(paths, "bundled_models_dir", lambda: bundled)
    return write_model_package(
        bundled / "threshold", name="threshold", patch_size=(64, 64), target_spacing=(0.8, 0.8), default=True
    )


def _segment(*args: str) -> int:
    return main(["segment", *args, "--threads", "1"])


# ----- input checks: refused before any work, nothing written --------------------------------------
def test_a_label_map_given_as_the_ct_is_refused_before_any_work(phantom_files, tmp_path: Path, capsys) -> None:
    _, ref = phantom_files
    out = tmp_path / "out" / "l.nii.gz"
    assert _segment(str(ref), "--out", str(out), "--report", str(tmp_path / "out" / "r.json")) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("kneeseg: ref.nii.gz holds only 3 different values") and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_mr_values_in_a_nifti_are_refused(phantom, tmp_path: Path, capsys) -> None:
    mr = phantom.ct.with_array(((phantom.ct.array.astype(np.float32) + 1024) * 0.8), dicom=None)
    (tmp_path / "in").mkdir()
    sitk.WriteImage(mr.to_sitk(), str(tmp_path / "in" / "mr.nii.gz"))
    assert _segment(str(tmp_path / "in" / "mr.nii.gz"), "--out", str(tmp_path / "l.nii.gz")) == 2
    assert "Is it MR" in capsys.readouterr().err
    assert not (tmp_path / "l.nii.gz").exists()


def test_a_reference_with_foreign_labels_is_refused_unless_mapped(
    phantom, phantom_files, tmp_path: Path, capsys
) -> None:
    ct, _ = phantom_files
    atlas = phantom.labels.with_array(np.where(phantom.labels.array > 0, phantom.labels.array + 2, 0).astype(np.uint8))
    atlas.array[0, 0, :5] = 7  # one more, unmapped structure
    sitk.WriteImage(atlas.to_sitk(), str(tmp_path / "atlas.nii.gz"))
    out = tmp_path / "l.nii.gz"
    assert _segment(str(ct), "--out", str(out), "--reference", str(tmp_path / "atlas.nii.gz")) == 2
    assert "--reference-labels" in capsys.readouterr().err
    assert not out.exists()
    code = _segment(
        str(ct),
        "--out",
        str(out),
        "--reference",
        str(tmp_path / "atlas.nii.gz"),
        "--reference-labels",
        "3=1,4=2",
        "--report",
        str(tmp_path / "r.json"),
    )
    assert code == 0
    assert "Dice" in capsys.readouterr().out
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert report["reference"]["label_mapping"] == {"3": 1, "4": 2}
    femurs = {bone: m["dice"] for bone, m in report["metrics"].items() if bone.endswith("femur")}
    assert femurs and min(femurs.values()) > 0.8  # per side ('left femur', ...) when both hold two knees


def test_reference_labels_without_a_reference_or_malformed_are_one_line(phantom_files, tmp_path: Path, capsys) -> None:
    ct, ref = phantom_files
    assert _segment(str(ct), "--out", str(tmp_path / "l.nii.gz"), "--reference-labels", "3=1") == 2
    assert "needs --reference" in capsys.readouterr().err
    assert (
        _segment(str(ct), "--out", str(tmp_path / "l.nii.gz"), "--reference", str(ref), "--reference-labels", "3:1")
        == 2
    )
    assert "REFERENCE=MODEL" in capsys.readouterr().err


# ----- result checks, report and --strict ------------------------------------------------------------
def test_a_failing_result_is_printed_reported_and_exits_3_only_when_strict(
    phantom_files, threshold_model: Path, tmp_path: Path, capsys
) -> None:
    ct, _ = phantom_files
    out, report_path, meshes = tmp_path / "o" / "l.nii.gz", tmp_path / "o" / "r.json", tmp_path / "o" / "meshes"
    assert _segment(str(ct), "--out", str(out), "--report", str(report_path)) == 0
    printed = capsys.readouterr().out
    assert re.search(r"^checks   Do not trust this result: \d+ check\(s\) failed", printed, re.M)
    assert printed.index("femur") < printed.index("checks") < printed.index("written")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["status"] == "fail"
    code = _segment(
        str(ct), "--out", str(out), "--overwrite", "--strict", "--meshes", str(meshes), "--report", str(report_path)
    )
    assert code == 3
    assert out.exists() and report_path.exists() and not meshes.exists()
    assert "--strict" in capsys.readouterr().err


def _paths(value: object, prefix: str = "") -> set[str]:
    """Every field path of a JSON value, lists as '[]'; free-form maps stop at their own path."""
    free_form = {
        "settings",
        "volumes_ml",
        "removed_voxels",
        "timings_s.stages",
        "model.labels",
        "metrics",
        "reference.label_mapping",
        "checks.checks[].details",
    }
    found: set[str] = set()
    if isinstance(value, dict) and prefix not in free_form:
        for key, item in value.items():
            path = f"{prefix}.{key}" if prefix else key
            found.add(path)
            found |= _paths(item, path)
    elif isinstance(value, list):
        for item in value:
            found |= _paths(item, f"{prefix}[]")
    return found


def test_the_written_report_matches_its_documented_schema(phantom, phantom_files, tmp_path: Path, capsys) -> None:
    """Every field the report holds is documented in docs/segment-report.md, and every documented one is there."""
    from kneeseg_app.core.dicom.write import write_dicom_series

    write_dicom_series(phantom.ct, tmp_path / "dicom")
    _, ref = phantom_files
    report_path = tmp_path / "r.json"
    code = _segment(
        str(tmp_path / "dicom"),
        "--out",
        str(tmp_path / "l.nii.gz"),
        "--reference",
        str(ref),
        "--meshes",
        str(tmp_path / "m"),
        "--report",
        str(report_path),
    )
    assert code == 0
    report = json.loads(report_path.read_text(encoding="utf-8"))
    doc = DOC.read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z_.\[\]0-9]+)` \|", doc, re.M)) - set(CHECK_ORDER)
    written = _paths(report)
    # filled_gaps entries exist only when gaps were filled
    optional = {p for p in documented if p.startswith("input.dicom.filled_gaps[].")}
    assert written - documented == set(), "fields written but not documented"
    assert documented - written - optional == set(), "fields documented but not written"
    for check_id in CHECK_ORDER:
        assert f"| `{check_id}` |" in doc
    assert [c["id"] for c in report["checks"]["checks"]] == list(CHECK_ORDER)
    assert report["schema"] == "kneeseg-segment-report" and report["schema_version"] == 1
    assert report["input"]["format"] == "dicom" and report["input"]["dicom"]["modality"] == "CT"
    assert report["outputs"]["meshes"] and report["outputs"]["labels"].endswith("l.nii.gz")
    assert set(report["timings_s"]) >= {"read", "segment", "checks", "total", "stages"}


def test_a_report_path_is_checked_before_any_work(phantom_files, tmp_path: Path, capsys) -> None:
    ct, _ = phantom_files
    out = tmp_path / "l.nii.gz"
    assert _segment(str(ct), "--out", str(out), "--report", str(tmp_path / "r.txt")) == 2
    assert ".json" in capsys.readouterr().err
    assert _segment(str(ct), "--out", str(out), "--report", str(ct.parent / "r.json")) == 2
    assert not out.exists() and not (ct.parent / "r.json").exists()


@pytest.mark.slow
def test_the_bundled_model_on_phantoms_passes_every_check(tmp_path: Path, capsys) -> None:
    for seed in (1, 5):
        p = generate_phantom(seed, shape_zyx=(64, 160, 160))
        folder = tmp_path / f"in{seed}"
        folder.mkdir()
        sitk.WriteImage(p.ct.to_sitk(), str(folder / "ct.nii.gz"))
        report_path = tmp_path / f"r{seed}.json"
        code = _segment(
            str(folder / "ct.nii.gz"),
            "--out",
            str(tmp_path / f"l{seed}.nii.gz"),
            "--strict",
            "--report",
            str(report_path),
        )
        report = json.loads(report_path.read_text(encoding="utf-8"))
        problems = [c["message"] for c in report["checks"]["checks"] if c["status"] != "pass"]
        assert code == 0 and problems == [], f"seed {seed}: {problems}"
        assert report["checks"]["checks"][-1]["details"]["recorded"] is True
    assert "All 9 checks passed." in capsys.readouterr().out


# ----- real scans that are not knees -------------------------------------------------------------------
@pytest.fixture(scope="module")
def real_dicom() -> Path:
    if not (REAL_DICOM / "README.md").is_file():
        pytest.fail(f"real DICOM test data missing at {REAL_DICOM}", pytrace=False)
    return REAL_DICOM


def test_a_head_ct_is_refused_by_its_body_part(real_dicom: Path, tmp_path: Path, capsys) -> None:
    assert _segment(str(real_dicom / "ge-head-gantry-tilt"), "--out", str(tmp_path / "l.nii.gz")) == 2
    assert "CT of the head" in capsys.readouterr().err
    assert not (tmp_path / "l.nii.gz").exists()


def test_an_mr_series_is_refused(real_dicom: Path, tmp_path: Path, capsys) -> None:
    assert _segment(str(real_dicom / "broken-series" / "slicecount" / "001"), "--out", str(tmp_path / "l.nii.gz")) == 2
    assert "not CT" in capsys.readouterr().err


def test_an_nrrd_label_map_given_as_input_is_refused(real_dicom: Path, tmp_path: Path, capsys) -> None:
    nrrd = real_dicom / "ge-abdomen-3slice-with-seg" / "liver_seg.nrrd"
    assert _segment(str(nrrd), "--out", str(tmp_path / "l.nii.gz")) == 2
    assert "label map" in capsys.readouterr().err


@pytest.mark.slow
def test_an_abdomen_ct_fails_its_checks_with_the_bundled_model(real_dicom: Path, tmp_path: Path, capsys) -> None:
    report_path = tmp_path / "r.json"
    code = _segment(
        str(real_dicom / "siemens-jpeg2000-abdomen"),
        "--out",
        str(tmp_path / "l.nii.gz"),
        "--strict",
        "--report",
        str(report_path),
    )
    assert code == 3
    report = json.loads(report_path.read_text(encoding="utf-8"))
    checks = {c["id"]: c for c in report["checks"]["checks"]}
    # whatever the network labels in an abdomen, no femur stands on a tibia there: the anatomy rule
    # finds no knee joint, discards the labels and the knee-found check says why
    assert checks["knee_found"]["status"] == "fail"
    assert "discarded" in checks["knee_found"]["message"]
    assert sum(report["volumes_ml"].values()) <= 5.0
    assert report["status"] == "fail"
