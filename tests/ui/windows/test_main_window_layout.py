"""Views alone really fill the viewer, the Segment button answers at once, a big restored
window is clamped to the screen."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt
from ui_support import wait_loaded


def test_a_view_shown_alone_fills_the_viewer(qtbot, window, knee_dicom) -> None:
    window.open_path(knee_dicom)
    wait_loaded(qtbot, window)
    viewer, axial = window.viewer, window.viewer.views["Axial"]
    qtbot.wait(50)
    quarter = axial.size()
    window.viewer.views["Axial"].title.mouseDoubleClickEvent(None)
    qtbot.waitUntil(lambda: axial.width() > quarter.width() * 1.6, timeout=3000)
    assert axial.width() >= viewer.width() - 4 and axial.height() >= viewer.height() - 4
    assert not viewer.views["Coronal"].isVisible() and not viewer.view3d.isVisible()
    window.viewer.toggle_maximised("Axial")
    qtbot.waitUntil(lambda: axial.width() < viewer.width() * 0.6, timeout=3000)
    assert viewer.views["Sagittal"].isVisible()


def test_the_segment_button_answers_before_the_run_starts(qtbot, window, threshold_model, knee_dicom) -> None:
    window.open_path(knee_dicom)
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: window.models.find("test-threshold-2d") is not None, timeout=5000)
    window.models.select("test-threshold-2d")
    panel = window.run_panel
    assert panel.hint.text().startswith("Next: press Segment")
    qtbot.waitUntil(lambda: panel.segment.isEnabled(), timeout=5000)
    qtbot.mouseClick(panel.segment, Qt.MouseButton.LeftButton)
    # no event processed yet: the worker has not been asked for, the button already says so
    assert not window.segmenter.running
    assert not panel.segment.isEnabled() and panel.stage.text() == "Starting…"
    qtbot.waitUntil(lambda: window.session.result is not None, timeout=30000)
    assert panel.hint.isHidden()


def test_a_window_saved_on_a_bigger_screen_is_clamped_to_this_one(qtbot, app_settings, dialogs, kneeseg_home) -> None:
    from kneeseg_app.ui.windows.main_window import MainWindow

    big = MainWindow(settings=app_settings, dialogs=dialogs)
    qtbot.addWidget(big)
    available = big.screen().availableGeometry()
    big.setGeometry(available.x() + 200, available.y() + 150, available.width() + 900, available.height() + 700)
    app_settings.geometry = bytes(big.saveGeometry())
    again = MainWindow(settings=app_settings, dialogs=dialogs)
    qtbot.addWidget(again)
    assert available.contains(again.geometry()), (available, again.geometry())
    assert again.minimumWidth() <= available.width() and again.minimumHeight() <= available.height()
    assert isinstance(app_settings.store.value("window/geometry"), QByteArray)
