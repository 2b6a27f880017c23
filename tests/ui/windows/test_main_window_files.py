"""Files and models from the window: recent list, drag and drop, screenshots, model packages."""

from __future__ import annotations

import numpy as np
from onnx_factory import edit_manifest, write_model_package
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage
from ui_support import wait_idle, wait_loaded

from kneeseg_app.core import paths


def test_a_dropped_folder_is_opened_and_listed_under_recent(qtbot, window, app_settings, knee_dicom) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(knee_dicom))])
    drop = QDropEvent(
        QPointF(100, 100), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(drop)
    wait_loaded(qtbot, window)
    assert window.session.case.source == knee_dicom
    assert [a.text() for a in window.recent_menu.actions() if a.text()] == [str(knee_dicom), "Clear list"]
    window.session.set_case(None)
    window.recent_menu.actions()[0].trigger()
    wait_loaded(qtbot, window)
    assert window.session.case.source == knee_dicom
    window.recent_menu.actions()[-1].trigger()
    assert app_settings.recent == [] and [a.text() for a in window.recent_menu.actions()] == ["(none)"]


def test_a_screenshot_of_the_views_is_saved_as_png(qtbot, window, dialogs, knee_dicom, tmp_path) -> None:
    window.open_path(knee_dicom)
    wait_idle(qtbot, window)
    dialogs.save_file = str(tmp_path / "shots" / "knee")
    saved = window.flows.save_screenshot()
    assert saved.name == "knee.png"
    image = QImage(str(saved))
    assert image.width() == window.viewer.width() and image.height() == window.viewer.height()


def test_unusable_models_are_greyed_with_their_reason(qtbot, window, threshold_model) -> None:
    broken = write_model_package(paths.user_models_dir() / "old-schema", name="old-schema")
    edit_manifest(broken, schema_version=7)
    window.refresh_models()
    items = {
        window.model_panel.list.item(r).data(Qt.ItemDataRole.UserRole): window.model_panel.list.item(r)
        for r in range(window.model_panel.list.count())
    }
    bad = items["old-schema"]
    assert not bad.flags() & Qt.ItemFlag.ItemIsSelectable
    assert "cannot be used" in bad.text() and "schema" in bad.toolTip().lower()
    assert items["test-threshold-2d"].flags() & Qt.ItemFlag.ItemIsSelectable
    assert "old-schema" in window.model_panel.facts.text()
    assert window.model_panel.clinical.isVisibleTo(window.model_panel)  # red: not for clinical use


def test_add_model_copies_a_package_chosen_by_the_user(qtbot, window, dialogs, tmp_path) -> None:
    dialogs.folder = str(write_model_package(tmp_path / "usb" / "knee-v2", name="knee-v2"))
    window.flows.add_model()
    assert (paths.user_models_dir() / "knee-v2" / "manifest.json").is_file()
    assert window.models.selected.name == "knee-v2"
    assert dialogs.of_kind("info")[-1][1] == "Model added"
    dialogs.folder = str(tmp_path / "usb")  # not a package
    window.flows.add_model()
    assert "manifest" in dialogs.of_kind("error")[-1][2]


def test_saving_before_there_is_a_result_explains_why_not(window, dialogs) -> None:
    assert window.flows.save_labels() is None
    assert window.flows.export_metrics() is None
    assert [m[1] for m in dialogs.of_kind("info")] == ["Nothing to save", "No metrics"]


def test_window_level_presets_and_overlay_controls_reach_the_views(qtbot, window, knee_dicom) -> None:
    window.open_path(knee_dicom)
    wait_idle(qtbot, window)
    panel = window.display_panel
    panel.preset.setCurrentText("Soft tissue")
    panel.preset.activated.emit(panel.preset.currentIndex())
    levels = window.viewer.views["Axial"].ct_item.getLevels()
    assert tuple(np.round(levels)) == (-160, 240)
    assert panel.window_text.text() == "W 400  L 40"
    panel.opacity.setValue(80)
    assert window.viewer_state.result_style.opacity == 0.8 and panel.opacity_text.text() == "80 %"
    panel.label_boxes[2].setChecked(False)
    assert 2 in window.viewer_state.result_style.hidden


def test_bone_surfaces_are_exported_as_stl_but_never_into_the_input(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    from test_main_window import open_and_segment

    open_and_segment(qtbot, window, knee_dicom)
    dialogs.folder = str(knee_dicom)
    assert not window.flows.export_surfaces()
    assert "input folder" in dialogs.of_kind("error")[-1][2]
    dialogs.folder = str(tmp_path / "cad")
    assert window.flows.export_surfaces()
    qtbot.waitUntil(lambda: not window.export_task.running, timeout=30000)
    # named after the patient ID; no side: the toy knee's header and anatomy do not tell it
    assert sorted(p.name for p in (tmp_path / "cad").iterdir()) == ["TEST0001_femur.stl", "TEST0001_tibia.stl"]
    assert (tmp_path / "cad" / "TEST0001_femur.stl").stat().st_size > 10_000


def test_no_widget_attribute_hides_a_qt_method(window) -> None:
    # e.g. ``self.metric = QComboBox()`` on a dialog replaces QPaintDevice.metric(),
    # which Qt calls while painting: the window crashed on a real display.
    from PySide6.QtCore import SignalInstance
    from PySide6.QtWidgets import QWidget

    def qt_methods(widget: QWidget) -> set[str]:
        return set(dir(next(c for c in type(widget).__mro__ if c.__module__.startswith("PySide6"))))

    window.flows.open_batch()
    widgets = [window, window.batch_window, *window.findChildren(QWidget), *window.batch_window.findChildren(QWidget)]
    offenders = [
        f"{type(widget).__name__}.{name}"
        for widget in widgets
        if type(widget).__module__.startswith("kneeseg_app")
        for name, value in vars(widget).items()
        if name in qt_methods(widget) and not callable(value) and not isinstance(value, SignalInstance)
    ]
    assert offenders == []
    window.batch_window.close()
