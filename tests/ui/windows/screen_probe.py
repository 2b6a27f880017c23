"""Run by test_screens.py in a fresh process (Qt's screen size and scale factor are fixed per process).

Opens the toy knee CT with the test model in the real window on the screen the
environment describes, grabs the window to ``argv[1]`` (PNG) and prints a JSON report:
the screen, the window's frame, each control of the Segment tab and where it lies.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(TESTS), str(TESTS / "ui")]


def _wait(app, condition, timeout_s: float = 30.0) -> None:
    import time

    from PySide6.QtTest import QTest

    end = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < end:
        QTest.qWait(20)


def _controls(window) -> list[dict]:
    """Each visible control of the Segment tab: inside the window, and shown by the dock without
    scrolling sideways; below the fold only inside a scroll area that shows its scroll bar."""
    from PySide6.QtCore import QPoint, QRect
    from PySide6.QtWidgets import (
        QAbstractButton,
        QAbstractSpinBox,
        QComboBox,
        QLabel,
        QProgressBar,
        QScrollArea,
        QWidget,
    )

    def rect_in_window(widget) -> QRect:
        return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())

    tab = window.tabs.widget(0)
    kinds = (QAbstractButton, QAbstractSpinBox, QComboBox, QProgressBar, QLabel)
    found = []
    for widget in tab.findChildren(QWidget):
        if not isinstance(widget, kinds) or not widget.isVisible():
            continue
        if isinstance(widget, QLabel) and not widget.text().strip():
            continue
        rect = rect_in_window(widget)
        area, parent = None, widget.parentWidget()
        while parent is not None and parent is not tab:
            if isinstance(parent, QScrollArea):
                area = parent
                break
            parent = parent.parentWidget()
        shown = rect_in_window(area.viewport()) if area is not None else rect_in_window(tab)
        sideways = shown.left() <= rect.left() and rect.right() <= shown.right()
        below_fold = not (shown.top() <= rect.top() and rect.bottom() <= shown.bottom())
        scrollable = area is not None and area.verticalScrollBar().isVisible()
        found.append(
            {
                "name": widget.objectName() or type(widget).__name__,
                "text": (widget.text() if hasattr(widget, "text") else "")[:40],
                "rect": [rect.x(), rect.y(), rect.width(), rect.height()],
                "in_scroll_area": area is not None,
                "inside_window": window.rect().contains(rect) or (below_fold and scrollable),
                "reachable": sideways and (not below_fold or scrollable),
            }
        )
    return found


def main(png: str) -> int:
    home = Path(tempfile.mkdtemp(prefix="kneeseg-screens-"))
    try:
        return _probe(home, png)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def _probe(home: Path, png: str) -> int:
    import os

    os.environ["KNEESEG_HOME"] = str(home / "home")
    from onnx_factory import write_model_package
    from PySide6.QtCore import QSettings
    from ui_support import RecordingDialogs, knee_series

    from kneeseg_app.core import paths
    from kneeseg_app.ui.app import create_application
    from kneeseg_app.ui.state.settings import AppSettings
    from kneeseg_app.ui.windows.main_window import MainWindow

    app = create_application(["kneeseg"])
    write_model_package(paths.user_models_dir() / "test-threshold-2d", name="test-threshold-2d", patch_size=(64, 64))
    folder = home / "knee_ct"
    knee_series().write(folder)
    settings = AppSettings(QSettings(str(home / "kneeseg.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings=settings, dialogs=RecordingDialogs())
    window.show()
    window.open_path(folder)
    _wait(app, lambda: window.session.volume is not None and window.models.package is not None)
    window.tabs.setCurrentIndex(0)
    _wait(app, lambda: False, 0.5)
    screen = window.screen().availableGeometry()
    frame = window.frameGeometry()
    axial = window.viewer.views["Axial"]
    report = {
        "screen": [screen.x(), screen.y(), screen.width(), screen.height()],
        "frame": [frame.x(), frame.y(), frame.width(), frame.height()],
        "dpr": window.devicePixelRatio(),
        "axial_view": [axial.width(), axial.height()],
        "segment_enabled": window.run_panel.segment.isEnabled(),
        "controls": _controls(window),
    }
    window.grab().save(png)
    print("REPORT " + json.dumps(report))
    window.session.set_case(None)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
