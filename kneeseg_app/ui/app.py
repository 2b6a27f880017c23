"""Entry point of the window: ``run_app`` (called by ``kneeseg demo``) and a display check.

Importing this module loads no Qt; ``display_available`` neither, so the CLI can decide
between the window and a headless demo without loading Qt's platform plugins (which
abort the process when no display is there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

APP_NAME = "KneeSeg"


def display_available(env: Mapping[str, str] | None = None, platform: str | None = None) -> bool:
    """True when a window can be shown (see :mod:`kneeseg_app.ui.display` for the reason why not)."""
    from kneeseg_app.ui.display import display_available as check

    return check(env, platform)[0]


def configure_pyqtgraph() -> None:
    """Row-major images (numpy order) and antialiased plots, once, before any widget."""
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)


def apply_dark_theme(app: Any) -> None:
    """A dark Fusion palette, as radiology viewers use (grey CT reads best on dark)."""
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
    palette = QPalette()
    colors = {
        QPalette.ColorRole.Window: "#2b2f36",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1f2228",
        QPalette.ColorRole.AlternateBase: "#2b2f36",
        QPalette.ColorRole.ToolTipBase: "#f5f5dc",
        QPalette.ColorRole.ToolTipText: "#1a1a1a",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#363b44",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.BrightText: "#ff5050",
        QPalette.ColorRole.Highlight: "#2f7fd8",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#6fb3ff",
        QPalette.ColorRole.PlaceholderText: "#8a8f98",
    }
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7f88"))
    app.setPalette(palette)


def create_application(argv: list[str]) -> Any:
    """The QApplication (reused when one exists, as under pytest-qt)."""
    from PySide6.QtWidgets import QApplication

    from kneeseg_app.ui.qt_compat import protect_against_emit_refcount_leak

    protect_against_emit_refcount_leak()
    app = QApplication.instance() or QApplication(list(argv) or [APP_NAME])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName("KneeSeg")
    configure_pyqtgraph()
    apply_dark_theme(app)
    from kneeseg_app.ui.widgets.icons import app_icon

    app.setWindowIcon(app_icon())
    return app


def run_app(argv: list[str], open_demo: bool = True, exit_after_s: float | None = None) -> int:
    """Show the main window (with the demo case and the default model) until it closes.

    ``exit_after_s`` closes the window by itself after that many seconds (smoke tests
    and packaging checks: the frozen app must start, show and quit cleanly).
    """
    app = create_application(argv)
    from kneeseg_app.ui.windows.main_window import MainWindow

    window = MainWindow()
    window.show()
    if open_demo:
        window.open_demo()
    if exit_after_s is not None:
        from PySide6.QtCore import QTimer

        QTimer.singleShot(int(exit_after_s * 1000), window.close)
    return int(app.exec())
