"""Whose scan it is, in the real window: title, case panel, several patients in one folder, hiding identifiers."""

from __future__ import annotations

from pathlib import Path

import pytest
from dicom_factory import CTSeries
from ui_support import knee_hu, wait_loaded

DOE = {
    "PatientName": "DOE^JOHN",
    "PatientID": "12345",
    "PatientBirthDate": "19500102",
    "StudyDate": "20240131",
    "StudyDescription": "CT KNEE",
    "AccessionNumber": "ACC9",
}
ROE = {"PatientName": "ROE^JANE", "PatientID": "999", "PatientBirthDate": "19800303"}
IDENTIFIERS = ("Doe", "DOE", "12345", "1950-01-02", "2024-01-31", "ACC9")


def _series(header: dict, description: str = "Knee 2.0 Bone", **geometry) -> CTSeries:
    return CTSeries(
        n_slices=12,
        rows=32,
        columns=32,
        pixel_spacing=(1.6, 1.6),
        origin=(-25.6, -25.6, 20.0),
        slice_step=3.0,
        thickness=3.0,
        intensity=knee_hu,
        description=description,
        header=header,
        **geometry,
    )


@pytest.fixture
def doe_folder(tmp_path: Path) -> Path:
    _series(DOE).write(tmp_path / "DOE_JOHN_knee")
    return tmp_path / "DOE_JOHN_knee"


def test_the_title_and_case_panel_name_the_patient(qtbot, window, doe_folder) -> None:
    window.open_path(doe_folder)
    wait_loaded(qtbot, window)
    assert "Doe, John (ID 12345)" in window.windowTitle()
    panel = window.case_info.text()
    for shown in ("Doe, John", "12345", "1950-01-02", "2024-01-31", "CT KNEE", "ACC9", "Knee 2.0 Bone"):
        assert shown in panel


def test_hide_identifiers_blanks_them_in_the_title_and_panel_and_back(qtbot, window, doe_folder) -> None:
    window.open_path(doe_folder)
    wait_loaded(qtbot, window)
    window.identity.hide_action.trigger()  # View > Hide identifiers
    title, panel = window.windowTitle(), window.case_info.text()
    assert not any(text in title or text in panel for text in IDENTIFIERS), (title, panel)
    assert "DOE_JOHN_knee" not in title  # a CD's folder is often named after the patient
    assert "(hidden)" in panel and "CT KNEE" in panel  # the study's description is not an identifier
    assert window.dialogs.hide_identifiers and window.settings.hide_identifiers
    window.recent_menu.aboutToShow.emit()
    assert not any("DOE_JOHN" in a.text() for a in window.recent_menu.actions())
    window.identity.hide_action.trigger()
    assert "Doe, John (ID 12345)" in window.windowTitle() and "1950-01-02" in window.case_info.text()
    window.recent_menu.aboutToShow.emit()
    assert any("DOE_JOHN" in a.text() for a in window.recent_menu.actions())


def test_identifiers_stay_hidden_when_another_case_opens(qtbot, window, doe_folder, tmp_path: Path) -> None:
    window.identity.set_hidden(True)
    window.open_path(doe_folder)
    wait_loaded(qtbot, window)
    assert not any(text in window.windowTitle() or text in window.case_info.text() for text in IDENTIFIERS)


def test_a_folder_with_two_patients_is_announced_before_anything_opens(qtbot, window, dialogs, tmp_path: Path) -> None:
    folder = tmp_path / "cd"
    _series(DOE).write(folder / "a")
    _series(ROE, description="Knee other patient", study_uid="1.2.826.0.1.3680043.8.498.77").write(folder / "b")
    dialogs.confirm_answer = False
    window.open_path(folder)
    qtbot.waitUntil(lambda: bool(dialogs.questions) and not window.loader.busy, timeout=20000)
    question = dialogs.questions[-1]
    assert "2 different patients" in question
    assert "Doe, John (ID 12345)" in question and "Roe, Jane (ID 999)" in question
    assert window.session.volume is None and dialogs.series_offered == []  # nothing opened, no series offered

    dialogs.confirm_answer = True
    dialogs.series_choice = lambda series: next(s for s in series if s.identity.patient_id == "999")
    window.open_path(folder)
    wait_loaded(qtbot, window)
    assert {s.identity.patient_id for s in dialogs.series_offered[-1]} == {"12345", "999"}
    assert "Roe, Jane (ID 999)" in window.windowTitle()


def test_suggested_file_names_start_with_the_patient_id_unless_identifiers_are_left_out(
    qtbot, window, doe_folder
) -> None:
    window.open_path(doe_folder)
    wait_loaded(qtbot, window)
    assert window.identity.file_base() == "12345"
    window.identity.names_action.setChecked(False)  # File > Patient ID in file names: off
    assert window.identity.file_base() == "kneeseg"
    window.identity.names_action.setChecked(True)
    window.identity.set_hidden(True)
    assert window.identity.file_base() == "kneeseg"  # a suggested name is on screen too
    window.identity.set_hidden(False)
    assert window.identity.file_base() == "12345"
