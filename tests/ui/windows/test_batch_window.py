"""Engineers' batch mode in the real window: run, read the tables and plots, export, cancel."""

from __future__ import annotations

import csv

from onnx_factory import slow_network, write_model_package
from PySide6.QtCore import Qt
from ui_support import write_case

from kneeseg_app.core import paths
from kneeseg_app.ui.controllers.models_controller import ModelsController
from kneeseg_app.ui.controllers.segmentation import RunOptions
from kneeseg_app.ui.windows.batch_window import BatchWindow


def _window(qtbot, dialogs) -> BatchWindow:
    models = ModelsController()
    models.refresh()
    window = BatchWindow(models, dialogs, RunOptions(threads=1))
    qtbot.addWidget(window)
    return window


def test_a_batch_fills_the_tables_and_plots_and_exports_them(qtbot, dialogs, threshold_model, tmp_path) -> None:
    write_model_package(paths.user_models_dir() / "second", name="second-model")
    for name, shift in (("c1", 0.0), ("c2", 0.8), ("c3", 1.6)):
        write_case(tmp_path / "cases" / name, shift_mm=shift)
    window = _window(qtbot, dialogs)
    for row in range(window.model_list.count()):  # ours, not any bundled model
        item = window.model_list.item(row)
        item.setCheckState(
            Qt.CheckState.Checked if item.text() in ("test-threshold-2d", "second-model") else Qt.CheckState.Unchecked
        )
    window.source.setText(str(tmp_path / "cases"))
    with qtbot.waitSignal(window.controller.finished, timeout=60000):
        qtbot.mouseClick(window.run, Qt.MouseButton.LeftButton)
    assert window.cases.rowCount() == 3 * 2 * 2  # cases x models x bones
    models = {window.summary.item(r, 0).text() for r in range(window.summary.rowCount())}
    assert models == {"test-threshold-2d", "second-model"}
    dice_rows = [r for r in range(window.summary.rowCount()) if window.summary.item(r, 2).text() == "dice"]
    assert all("±" in window.summary.item(r, 3).text() and "[" in window.summary.item(r, 4).text() for r in dice_rows)
    assert "per volume" in window.timing.text()
    assert len(window.plot.getPlotItem().items) > 4  # boxes, whiskers and cases per model and bone
    assert not window.grab().isNull()  # the whole dialog paints
    dialogs.save_file = str(tmp_path / "export" / "study.csv")
    written = window.export_csv()
    assert [p.name for p in written] == ["study_cases.csv", "study_summary.csv"]
    rows = list(csv.DictReader(written[0].open(encoding="utf-8")))
    assert len(rows) == 12 and {r["model"] for r in rows} == {"test-threshold-2d", "second-model"}
    dialogs.save_file = str(tmp_path / "export" / "boxes")
    png = window.export_png()
    assert png.name == "boxes.png" and png.stat().st_size > 1000


def test_a_batch_can_be_cancelled_and_keeps_the_cases_already_done(qtbot, dialogs, kneeseg_home, tmp_path) -> None:
    write_model_package(
        paths.user_models_dir() / "slow", name="slow-model", networks=[slow_network(2, channels=32, layers=8)]
    )
    for name in ("a", "b", "c", "d"):
        write_case(tmp_path / "cases" / name)
    window = _window(qtbot, dialogs)
    for row in range(window.model_list.count()):
        item = window.model_list.item(row)
        item.setCheckState(Qt.CheckState.Checked if item.text() == "slow-model" else Qt.CheckState.Unchecked)
    window.source.setText(str(tmp_path / "cases"))
    assert window.start()
    qtbot.waitUntil(lambda: window.bar.value() > 0, timeout=20000)
    with qtbot.waitSignal(window.controller.cancelled, timeout=3000):
        qtbot.mouseClick(window.cancel, Qt.MouseButton.LeftButton)
    assert window.controller.result.cancelled
    assert len(window.controller.result.outcomes) < 4
    qtbot.waitUntil(window.run.isEnabled, timeout=2000)
    assert "Cancelled" in window.stage.text()


def test_starting_without_cases_or_models_says_why(qtbot, dialogs, threshold_model, tmp_path) -> None:
    window = _window(qtbot, dialogs)
    for row in range(window.model_list.count()):  # the selected model comes ticked
        window.model_list.item(row).setCheckState(Qt.CheckState.Unchecked)
    window.source.setText(str(tmp_path))
    assert not window.start()
    assert "Choose at least one model" in dialogs.of_kind("error")[-1][2]
    window.model_list.item(0).setCheckState(Qt.CheckState.Checked)
    assert not window.start()
    assert "No cases found" in dialogs.of_kind("error")[-1][2]
