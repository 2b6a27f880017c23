"""Every question and message the window puts to the user goes through ``DialogService``.

The window calls ``self.dialogs.error(title, text)`` etc.; tests swap the object for a
recorder (no monkeypatching of Qt), and the real one stays small: message boxes with
expandable details, file pickers, the series chooser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtWidgets import QFileDialog, QMessageBox, QWidget

from kneeseg_app.core.errors import describe_exception
from kneeseg_app.ui.state.case_guard import Answer


class DialogService:
    """Message boxes and file pickers, parented to the main window."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent
        self.hide_identifiers = False
        """View > Hide identifiers: the series chooser blanks patient names, IDs and dates too."""

    # ----- messages -------------------------------------------------------
    def error(self, title: str, text: str, details: str = "") -> None:
        self._box(QMessageBox.Icon.Critical, title, text, details)

    def warning(self, title: str, text: str, details: str = "") -> None:
        self._box(QMessageBox.Icon.Warning, title, text, details)

    def info(self, title: str, text: str, details: str = "") -> None:
        self._box(QMessageBox.Icon.Information, title, text, details)

    def exception(self, title: str, exc: BaseException) -> None:
        """Show any failure: the user's sentence, with a traceback only under 'Details'."""
        text, details = describe_exception(exc)
        self.error(title, text, details)

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(
            self.parent,
            title,
            text,
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        return answer == QMessageBox.StandardButton.Yes

    def ask_save(self, title: str, text: str) -> Answer:
        """Save / Discard / Cancel before a case is left (Escape and closing the box: Cancel)."""
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.parent, title, text, buttons.Save | buttons.Discard | buttons.Cancel, buttons.Save
        )
        return {buttons.Save: Answer.SAVE, buttons.Discard: Answer.DISCARD}.get(answer, Answer.CANCEL)

    def message_box(self, icon: QMessageBox.Icon, title: str, text: str, details: str = "") -> QMessageBox:
        """The box shown for a message: the sentence, technical details folded away."""
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self.parent)
        if details:
            box.setDetailedText(details)
        return box

    def _box(self, icon: QMessageBox.Icon, title: str, text: str, details: str) -> None:
        self.message_box(icon, title, text, details).exec()

    # ----- files ------------------------------------------------------------
    def choose_folder(self, title: str, start: str = "") -> str | None:
        folder = QFileDialog.getExistingDirectory(self.parent, title, start)
        return folder or None

    def choose_open_file(self, title: str, start: str = "", filters: str = "") -> str | None:
        path, _ = QFileDialog.getOpenFileName(self.parent, title, start, filters)
        return path or None

    def choose_save_file(self, title: str, start: str = "", filters: str = "") -> str | None:
        """Save dialog; the app itself asks before overwriting (not Qt), so tests see it."""
        path, _ = QFileDialog.getSaveFileName(
            self.parent, title, start, filters, options=QFileDialog.Option.DontConfirmOverwrite
        )
        return path or None

    def choose_series(self, series: Sequence[Any], others: Sequence[Any] = (), preselect: int = 0) -> Any | None:
        """Let the user pick one of several series (None: cancelled)."""
        from kneeseg_app.ui.widgets.series_dialog import SeriesDialog

        dialog = SeriesDialog(series, others, preselect, self.parent, hide_identifiers=self.hide_identifiers)
        return dialog.chosen() if dialog.exec() else None
