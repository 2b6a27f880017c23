"""Puts the main window on its screen: first size from the screen, restored geometry clamped into it.

The decisions are Qt-free (:mod:`kneeseg_app.ui.state.screen_fit`); this module only
reads the screen's available area and applies them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QWidget

from kneeseg_app.ui.state.screen_fit import Rect, clamp_geometry, dock_width, initial_geometry, minimum_size

FRAME_ALLOWANCE = (8, 40)
"""Room kept for the window manager's frame and title bar (unknown before the window is shown)."""


def rect_of(rect: QRect) -> Rect:
    return Rect(rect.x(), rect.y(), rect.width(), rect.height())


def available_area(window: QWidget) -> Rect:
    """The available area (without task bars) of the window's screen, less room for its frame."""
    screen = window.screen() or QGuiApplication.primaryScreen()
    area = rect_of(screen.availableGeometry())
    dx, dy = FRAME_ALLOWANCE
    return Rect(area.x, area.y + dy - dx, max(1, area.width - 2 * dx), max(1, area.height - dy))


def place_window(window: Any, saved_geometry: bytes) -> None:
    """Restore ``saved_geometry`` clamped to the current screen, or size the window from the screen."""
    area = available_area(window)
    window.setMinimumSize(*minimum_size(area))
    if saved_geometry and window.restoreGeometry(saved_geometry):
        area = available_area(window)  # the saved geometry may lie on another screen
        if window.isMaximized() or window.isFullScreen():
            return
        current = rect_of(window.geometry())
        if not area.contains(current):
            fitted = clamp_geometry(current, area)
            window.setGeometry(fitted.x, fitted.y, fitted.width, fitted.height)
        return
    first = initial_geometry(area)
    window.setGeometry(first.x, first.y, first.width, first.height)
    dock = getattr(window, "tools_dock", None)
    if dock is not None:  # the dock would take its widest text's width, leaving the views too little
        window.resizeDocks([dock], [dock_width(first.width)], Qt.Orientation.Horizontal)
