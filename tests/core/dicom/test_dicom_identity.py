"""Whose scan it is, read from the headers: patient, study, accession and laterality reach the series and the volume."""

from __future__ import annotations

from pathlib import Path

from dicom_factory import CTSeries

from kneeseg_app.core.dicom import read_series, scan_folder
from kneeseg_app.core.identity import PatientIdentity

DOE = {
    "PatientName": "DOE^JOHN",
    "PatientID": "12345",
    "PatientBirthDate": "19500102",
    "StudyDate": "20240131",
    "StudyDescription": "CT KNEE LEFT",
    "AccessionNumber": "ACC9",
    "Laterality": "L",
}


def test_the_identity_reaches_the_series_and_the_volume(tmp_path: Path) -> None:
    CTSeries(n_slices=4, header=DOE).write(tmp_path / "ct")
    scan = scan_folder(tmp_path / "ct")
    expected = PatientIdentity(
        name="DOE^JOHN",
        patient_id="12345",
        birth_date="19500102",
        study_date="20240131",
        study_description="CT KNEE LEFT",
        accession_number="ACC9",
        laterality="L",
    )
    assert scan.series[0].identity == expected
    assert read_series(scan.series[0]).dicom.identity == expected
    assert scan.patients_question() == ""


def test_image_laterality_counts_when_the_series_laterality_is_absent_and_b_says_nothing(tmp_path: Path) -> None:
    CTSeries(n_slices=3, header={"ImageLaterality": "R"}).write(tmp_path / "r")
    CTSeries(n_slices=3, header={"ImageLaterality": "B"}).write(tmp_path / "b")
    assert scan_folder(tmp_path / "r").series[0].identity.laterality == "R"
    assert scan_folder(tmp_path / "b").series[0].identity.laterality == ""


def test_a_folder_with_two_patients_says_so_naming_both(tmp_path: Path) -> None:
    CTSeries(n_slices=4, header=DOE).write(tmp_path / "mixed" / "a")
    other = {"PatientName": "ROE^JANE", "PatientID": "999"}
    CTSeries(n_slices=5, header=other, study_uid="1.2.826.0.1.3680043.8.498.2").write(tmp_path / "mixed" / "b")
    question = scan_folder(tmp_path / "mixed").patients_question()
    assert "2 different patients" in question
    assert "Doe, John (ID 12345)" in question and "Roe, Jane (ID 999)" in question
