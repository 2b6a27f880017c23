"""The series chooser names each series' patient, first, and hides them on request."""

from __future__ import annotations

from dicom_factory import CTSeries
from ui_support import knee_hu

from kneeseg_app.core.dicom import scan_folder
from kneeseg_app.ui.widgets.series_dialog import COLUMNS, IDENTITY_COLUMNS, SeriesDialog


def _two_patients(tmp_path):
    base = CTSeries(n_slices=6, intensity=knee_hu)
    base.but(header={"PatientName": "DOE^JOHN", "PatientID": "12345", "PatientBirthDate": "19500102"}).write(
        tmp_path / "a"
    )
    base.but(
        n_slices=4,
        header={"PatientName": "ROE^JANE", "PatientID": "999", "StudyDate": "20240131", "Laterality": "L"},
        study_uid="1.2.826.0.1.3680043.8.498.5",
    ).write(tmp_path / "b")
    return scan_folder(tmp_path)


def _cells(dialog, row: int) -> dict[str, str]:
    table = dialog.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    return {headers[c]: table.item(row, c).text() for c in range(table.columnCount())}


def test_patient_columns_come_first_and_name_each_series_patient(qtbot, tmp_path) -> None:
    scan = _two_patients(tmp_path)
    dialog = SeriesDialog(scan.series, scan.others)
    qtbot.addWidget(dialog)
    header = dialog.table.horizontalHeader()
    visual = [dialog.table.horizontalHeaderItem(header.logicalIndex(v)).text() for v in range(header.count())]
    assert visual[: len(IDENTITY_COLUMNS)] == list(IDENTITY_COLUMNS) and visual[-1] == COLUMNS[-1]
    rows = [_cells(dialog, r) for r in range(len(scan.series))]
    by_id = {row["Patient ID"]: row for row in rows}
    assert by_id["12345"]["Patient"] == "Doe, John" and by_id["12345"]["Born"] == "1950-01-02"
    assert by_id["999"]["Patient"] == "Roe, Jane" and by_id["999"]["Study date"] == "2024-01-31"
    assert by_id["999"]["Laterality"] == "left"


def test_hidden_identifiers_are_blank_in_the_chooser(qtbot, tmp_path) -> None:
    scan = _two_patients(tmp_path)
    dialog = SeriesDialog(scan.series, scan.others, hide_identifiers=True)
    qtbot.addWidget(dialog)
    text = " ".join(" ".join(_cells(dialog, r).values()) for r in range(len(scan.series)))
    assert "Doe" not in text and "12345" not in text and "1950" not in text and "Roe" not in text
    assert "(hidden)" in text and "left" in text  # the knee's side is not an identifier
