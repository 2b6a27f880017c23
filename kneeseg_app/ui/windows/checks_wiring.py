"""Puts the result's quality checks into the main window: the Checks tab, the banner, slice marks.

Kept out of ``main_window`` (which only builds and wires). Each new result is checked
in the background (the core's checks, the same as the CLI's); after edits the checks run
again on the edited labels once the user pauses. A failed result raises the banner over
the views; exports of it ask first (``WindowActions`` reads :attr:`ChecksWiring.quality`).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer

from kneeseg_app.ui.controllers.workers import Task
from kneeseg_app.ui.state.quality import ResultQuality, evaluate
from kneeseg_app.ui.widgets.checks_panel import ChecksPanel

RECHECK_DELAY_MS = 800
"""The checks of an edited result run this long after the last edit."""
FAIL_BANNER_STYLE = "background: #7a1f1f; color: #ffe0e0; padding: 5px;"
FLAG_MARK = " \u26a0"
FLAG_COLOR = "#ff6b5b"


class ChecksWiring:
    """Creates the ResultQuality and the Checks tab of ``window`` and keeps them current."""

    def __init__(self, window: Any) -> None:
        self.w = window
        self.quality = ResultQuality()
        self.panel = ChecksPanel(self.quality)
        self.panel.setObjectName("checks_panel")
        window.tabs.insertTab(min(2, window.tabs.count()), self.panel, "Checks")
        self.task: Task | None = None
        self._checked: Any = None
        self._banner_shown = False
        self._default_banner_style = window.banner.styleSheet()
        self.recheck_timer = QTimer(window)
        self.recheck_timer.setSingleShot(True)
        self.recheck_timer.setInterval(RECHECK_DELAY_MS)
        self.recheck_timer.timeout.connect(self._check_current)
        window.session.resultChanged.connect(self._on_result)
        window.session.resultEdited.connect(self.recheck_timer.start)
        window.viewer_state.cursorChanged.connect(self._on_cursor)
        self.panel.sliceRequested.connect(self.go_to_slice)

    @property
    def busy(self) -> bool:
        return self.task is not None and self.task.running

    # ----- checking ---------------------------------------------------------------------
    def _on_result(self, result: Any) -> None:
        self.recheck_timer.stop()
        self.quality.clear()
        self._show()
        if result is not None:
            self._check_current()

    def _check_current(self) -> None:
        session = self.w.session
        result, ct = session.result, session.volume
        if result is None or ct is None:
            return
        if self.task is not None:
            self.task.cancel()
        names = dict(self.w.viewer_state.label_names)
        edited = session.edits is not None and session.edits.edited
        self._checked = result
        sides_wiring = getattr(self.w, "sides", None)
        sides = sides_wiring.split_of(result.labels) if sides_wiring is not None else None
        task = Task(lambda progress, cancel: evaluate(ct, result, names, sides), name="quality checks", parent=self.w)
        task.finished.connect(lambda report: self._on_checked(report, result, edited))
        task.failed.connect(lambda exc: self.w.dialogs.exception("Cannot check the result", exc))
        self.task = task.start()

    def _on_checked(self, report: Any, result: Any, edited: bool) -> None:
        if result is not self._checked or self.w.session.result is None:
            return  # a newer result (or none) replaced it meanwhile
        self.quality.set_report(report, edited)
        self._show()

    # ----- showing -------------------------------------------------------------------------
    def _show(self) -> None:
        volume = self.w.session.volume
        self.panel.refresh(volume.shape[0] if volume is not None else 0)
        self._on_cursor(self.w.viewer_state.cursor)
        text = self.quality.banner_text()
        if text:
            self.w.banner.setStyleSheet(FAIL_BANNER_STYLE)
            self.w.show_banner(text)
            self._banner_shown = True
        elif self._banner_shown:
            self.w.banner.setStyleSheet(self._default_banner_style)
            self.w.show_banner("")
            self._banner_shown = False

    def _on_cursor(self, cursor: Any) -> None:
        geometry = self.w.viewer_state.geometry
        if geometry is None:
            return
        index = int(geometry.to_array_index(tuple(cursor))[0])
        self.panel.set_current_slice(index)
        self._mark_view(geometry.perm.index(0), self.quality.flags_of_slice(index))

    def _mark_view(self, display_axis: int, flags: list[str]) -> None:
        """Mark the slice counter of the view that pages through the slices when a check flags the one shown.

        Runs after the view's own cursor slot (connected later), so the counter text is current.
        """
        for view in self.w.viewer.views.values():
            if getattr(view.spec, "slice_axis", None) != display_axis:
                continue
            text = view.position.text().removesuffix(FLAG_MARK)
            view.position.setText(text + FLAG_MARK if flags else text)
            view.position.setStyleSheet(f"color: {FLAG_COLOR};" if flags else "")
            view.position.setToolTip(f"Flagged by: {', '.join(flags)}" if flags else "")

    def go_to_slice(self, index: int) -> None:
        """Show slice ``index`` (array axis 0) in every view, keeping the in-plane position."""
        state = self.w.viewer_state
        if state.geometry is None:
            return
        array_index = list(state.geometry.to_array_index(tuple(state.cursor)))
        array_index[0] = int(index)
        state.set_cursor(state.geometry.to_display_index(tuple(array_index)))
