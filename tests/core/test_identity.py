"""Whose scan it is: identifiers shown, hidden, kept out of file names, and several patients noticed."""

from __future__ import annotations

from kneeseg_app.core.identity import (
    HIDDEN,
    PatientIdentity,
    distinct_patients,
    file_prefix,
    format_date,
    several_patients_question,
)

DOE = PatientIdentity(
    name="DOE^JOHN",
    patient_id="12345",
    birth_date="19500102",
    study_date="20240131",
    study_description="CT KNEE",
    accession_number="ACC9",
    laterality="L",
)


def test_a_dicom_person_name_reads_family_first() -> None:
    assert DOE.display_name == "Doe, John"
    assert PatientIdentity(name="van Dijk^Anna").display_name == "van Dijk, Anna"
    assert DOE.who() == "Doe, John (ID 12345)"


def test_rows_show_every_identifier_and_hidden_rows_none() -> None:
    rows = dict(DOE.rows())
    assert rows == {
        "patient": "Doe, John",
        "patient ID": "12345",
        "born": "1950-01-02",
        "study date": "2024-01-31",
        "study": "CT KNEE",
        "accession": "ACC9",
        "laterality": "left",
    }
    hidden = dict(DOE.rows(hidden=True))
    for label in ("patient", "patient ID", "born", "study date", "accession"):
        assert hidden[label] == HIDDEN
    assert not any("Doe" in v or "12345" in v or "1950" in v for v in hidden.values())
    assert DOE.who(hidden=True) == HIDDEN


def test_file_names_carry_the_patient_id_unless_left_out() -> None:
    assert file_prefix(DOE) == "12345_"
    assert file_prefix(DOE, anonymous=True) == ""
    assert file_prefix(PatientIdentity(patient_id="A/B C:1")) == "A_B_C_1_"
    assert file_prefix(PatientIdentity()) == ""
    assert file_prefix(None) == ""


def test_two_patients_in_one_folder_are_named_in_the_question() -> None:
    roe = PatientIdentity(name="ROE^JANE", patient_id="999")
    assert distinct_patients([DOE, DOE, roe, PatientIdentity()]) == [DOE, roe]
    question = several_patients_question([DOE, roe, DOE])
    assert "2 different patients" in question
    assert "Doe, John (ID 12345)" in question and "Roe, Jane (ID 999)" in question
    assert several_patients_question([DOE, DOE]) == ""


def test_dates_that_are_not_dicom_dates_stay_as_they_are() -> None:
    assert format_date("20240131") == "2024-01-31"
    assert format_date("2024") == "2024"
    assert format_date("") == ""
