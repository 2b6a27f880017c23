"""The series chooser lists what a radiographer looks at, best first, non-volumes greyed."""

from __future__ import annotations

from dicom_factory import CTSeries, write_localizer
from PySide6.QtCore import Qt
from ui_support import knee_hu

from kneeseg_app.core.dicom import scan_folder
from kneeseg_app.ui.widgets.series_dialog import COLUMNS, SeriesDialog, table_rows


def test_the_chooser_lists_series_facts_and_preselects_the_best(qtbot, tmp_path) -> None:
    CTSeries(n_slices=12, description="Knee 1.0 Bone", kernel="BONE", thickness=1.0, intensity=knee_hu).write(
        tmp_path / "bone"
    )
    CTSeries(
        n_slices=6, description="Knee 3.0 Soft", kernel="STANDARD", thickness=3.0, slice_step=3.0, intensity=knee_hu
    ).write(tmp_path / "soft")
    write_localizer(tmp_path / "scout")
    scan = scan_folder(tmp_path)
    dialog = SeriesDialog(scan.series, scan.others)
    qtbot.addWidget(dialog)
    table = dialog.table
    rows = {
        table.item(r, 0).text(): [table.item(r, c).text() for c in range(len(COLUMNS))] for r in range(table.rowCount())
    }
    assert rows["Knee 1.0 Bone"][1:5] == ["CT", "12", "1.00 mm", "BONE"]
    assert rows["Knee 3.0 Soft"][2:5] == ["6", "3.00 mm", "STANDARD"]
    assert rows["Knee 1.0 Bone"][5].startswith("32 x 32")
    assert table.rowCount() == len(scan.series) + len(scan.others) and scan.others
    last = table.rowCount() - 1  # a non-volume (the scout) is shown but cannot be chosen
    assert not table.item(last, 0).flags() & Qt.ItemFlag.ItemIsSelectable and table.item(last, 6).text()
    assert dialog.chosen() is scan.series[0]
    table.selectRow(1)
    assert dialog.chosen() is scan.series[1]


def test_many_set_aside_series_with_one_reason_take_one_row(tmp_path) -> None:
    CTSeries(n_slices=6).write(tmp_path / "ct")
    for k in range(20):
        CTSeries(n_slices=1, rows=4, columns=4, description=f"Export {k}").write(tmp_path / f"S{k:02d}")
    write_localizer(tmp_path / "scout")
    scan = scan_folder(tmp_path)

    rows = table_rows(scan.series, scan.others)

    assert [selectable for _, selectable in rows] == [True, False, False]
    grouped = next(cells for cells, _ in rows if cells[0].startswith("20 series"))
    assert grouped[0] == "20 series (first: Export 0)" and grouped[-1] == "a single slice is not a volume"
