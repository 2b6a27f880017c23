"""prepare: an nnU-Net raw dataset in LPS, split by patient, with clear rejections and no half results."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from kneeseg_app.core.errors import OutputError
from kneeseg_app.core.volume import Volume
from trainer.casetable import CaseRow, read_case_table, write_case_table
from trainer.errors import DatasetError
from trainer.prepare import PrepareSettings, prepare_dataset
from trainer.synth import SynthSettings, synth_dataset

pytestmark = pytest.mark.train

SMALL = (16, 48, 48)


@pytest.fixture
def table(tmp_path: Path) -> Path:
    return synth_dataset(tmp_path / "data", SynthSettings(6, seed=11, shape_zyx=SMALL, second_knee_fraction=0.5))


def _leftovers(root: Path) -> list[str]:
    return [p.name for p in root.iterdir() if p.name.startswith(".")] if root.is_dir() else []


def test_dataset_layout_json_and_patient_grouped_folds(table: Path, tmp_path: Path) -> None:
    rows = read_case_table(table)
    report = prepare_dataset(rows, tmp_path / "raw", PrepareSettings(5, "Knee", test_fraction=0.3, seed=2))
    root = tmp_path / "raw" / "Dataset005_Knee"
    assert len(report.train) + len(report.test) == 6 and report.test and not report.rejected
    assert sorted(p.name for p in (root / "imagesTr").iterdir()) == sorted(f"{c}_0000.nii.gz" for c in report.train)
    assert sorted(p.name for p in (root / "labelsTs").iterdir()) == sorted(f"{c}.nii.gz" for c in report.test)
    dataset = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
    assert dataset["channel_names"] == {"0": "CT"} and dataset["file_ending"] == ".nii.gz"
    assert dataset["labels"] == {"background": 0, "femur": 1, "tibia": 2} and dataset["numTraining"] == len(
        report.train
    )
    patient = {r.case: r.patient for r in rows}
    assert not {patient[c] for c in report.train} & {patient[c] for c in report.test}
    for fold in json.loads((root / "splits_final.json").read_text(encoding="utf-8")):
        assert not {patient[c] for c in fold["val"]} & {patient[c] for c in fold["train"]}
    assert json.loads((root / "prepare_report.json").read_text(encoding="utf-8"))["train"] == report.train
    assert _leftovers(tmp_path / "raw") == []


def test_images_are_reoriented_to_lps_with_their_labels(tmp_path: Path) -> None:
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    labels = np.zeros((4, 5, 6), np.uint8)
    labels[1, 2, 3], labels[2, 1, 1] = 1, 2
    ras = np.diag([-1.0, -1.0, 1.0])  # x towards the patient's right, y towards anterior
    ct = Volume(array, (2.0, 1.0, 1.5), (10.0, 20.0, 30.0), ras)
    (tmp_path / "in").mkdir()
    sitk.WriteImage(ct.to_sitk(), str(tmp_path / "in" / "ct.nii.gz"))
    sitk.WriteImage(ct.with_array(labels).to_sitk(), str(tmp_path / "in" / "lab.nii.gz"))
    rows = [CaseRow("ras1", tmp_path / "in" / "ct.nii.gz", tmp_path / "in" / "lab.nii.gz", "P1", "train")]
    prepare_dataset(rows, tmp_path / "raw", PrepareSettings(6, test_fraction=0.0))
    out = sitk.ReadImage(str(tmp_path / "raw" / "Dataset006_KneeCT" / "imagesTr" / "ras1_0000.nii.gz"))
    out_labels = sitk.GetArrayFromImage(
        sitk.ReadImage(str(tmp_path / "raw" / "Dataset006_KneeCT" / "labelsTr" / "ras1.nii.gz"))
    )
    assert np.allclose(np.array(out.GetDirection()).reshape(3, 3), np.eye(3))
    assert np.array_equal(sitk.GetArrayFromImage(out), array[:, ::-1, ::-1])
    assert np.array_equal(out_labels, labels[:, ::-1, ::-1])
    corner = ct.index_to_lps([0, 4, 5])  # the voxel that becomes [0, 0, 0]
    assert np.allclose(out.GetOrigin(), corner)


def _break(table: Path, tmp_path: Path) -> list[CaseRow]:
    """Case 0 gets a label map on another grid, case 1 an unknown label 3."""
    rows = read_case_table(table)
    bad_grid = sitk.ReadImage(str(rows[0].labels))
    bad_grid.SetSpacing([s * 1.5 for s in bad_grid.GetSpacing()])
    sitk.WriteImage(bad_grid, str(tmp_path / "grid.nii.gz"))
    unknown = sitk.ReadImage(str(rows[1].labels))
    array = sitk.GetArrayFromImage(unknown)
    array[0, 0, 0] = 3
    patched = sitk.GetImageFromArray(array)
    patched.CopyInformation(unknown)
    sitk.WriteImage(patched, str(tmp_path / "unknown.nii.gz"))
    return [
        rows[0].__class__(rows[0].case, rows[0].image, tmp_path / "grid.nii.gz", rows[0].patient),
        rows[1].__class__(rows[1].case, rows[1].image, tmp_path / "unknown.nii.gz", rows[1].patient),
        *rows[2:],
    ]


def test_bad_cases_are_rejected_with_their_reason_and_the_rest_is_written(table: Path, tmp_path: Path) -> None:
    rows = _break(table, tmp_path)
    report = prepare_dataset(rows, tmp_path / "raw", PrepareSettings(7, test_fraction=0.0))
    reasons = {r.case: r.reason for r in report.rejected}
    assert "does not lie on the CT's grid" in reasons[rows[0].case] and "spacing" in reasons[rows[0].case]
    assert "unknown label value(s) 3" in reasons[rows[1].case]
    assert len(report.train) == 4
    saved = json.loads((tmp_path / "raw" / "Dataset007_KneeCT" / "prepare_report.json").read_text(encoding="utf-8"))
    assert {r["case"] for r in saved["rejected"]} == {rows[0].case, rows[1].case}
    assert "rejected" in report.text() and rows[1].case in report.text()


def test_relabel_maps_extra_labels_away(table: Path, tmp_path: Path) -> None:
    rows = _break(table, tmp_path)[1:]
    report = prepare_dataset(rows, tmp_path / "raw", PrepareSettings(8, test_fraction=0.0, relabel={3: 0}))
    assert not report.rejected


def test_strict_mode_writes_no_dataset_but_a_report(table: Path, tmp_path: Path) -> None:
    rows = _break(table, tmp_path)
    with pytest.raises(DatasetError, match="2 case\\(s\\) were rejected and --strict"):
        prepare_dataset(rows, tmp_path / "raw", PrepareSettings(9, strict=True))
    assert not (tmp_path / "raw" / "Dataset009_KneeCT").exists()
    assert (tmp_path / "raw" / "Dataset009_KneeCT.prepare_report.json").is_file()
    assert _leftovers(tmp_path / "raw") == []


def test_no_training_case_left_is_an_error(table: Path, tmp_path: Path) -> None:
    rows = _break(table, tmp_path)[:2]
    with pytest.raises(DatasetError, match="No training case is left"):
        prepare_dataset(rows, tmp_path / "raw", PrepareSettings(10, test_fraction=0.0))
    assert not (tmp_path / "raw" / "Dataset010_KneeCT").exists()


def test_a_used_dataset_id_is_refused(table: Path, tmp_path: Path) -> None:
    rows = read_case_table(table)
    prepare_dataset(rows, tmp_path / "raw", PrepareSettings(12, "A", test_fraction=0.0))
    with pytest.raises(OutputError, match="already used by Dataset012_A"):
        prepare_dataset(rows, tmp_path / "raw", PrepareSettings(12, "B", test_fraction=0.0))


def test_dicom_folders_are_prepared_like_files(tmp_path: Path) -> None:
    table = synth_dataset(tmp_path / "data", SynthSettings(2, seed=3, shape_zyx=SMALL, image_format="dicom"))
    rows = [r.__class__(r.case, r.image, r.labels, r.patient, "train") for r in read_case_table(table)]
    write_case_table(rows, tmp_path / "cases.csv")
    report = prepare_dataset(read_case_table(tmp_path / "cases.csv"), tmp_path / "raw", PrepareSettings(13))
    assert len(report.train) == 2 and not report.rejected
