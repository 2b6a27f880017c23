"""Puts whose scan it is into the main window: title, case panel, the two-patients question, hiding.

Kept out of ``main_window`` (which only builds and wires). The title and the case panel
name the patient (name, ID, birth and study date, study, accession, laterality) and the
knee's side; View > Hide identifiers blanks every identifier in the window, the series
chooser included, for screenshots and teaching; File > Patient ID in file names decides
whether exported surfaces are called ``12345_left_femur.stl`` or ``left_femur.stl`` (while
identifiers are hidden, file names leave the ID out too: their names are shown on screen).
A folder holding several patients' scans is announced, naming them, before anything opens.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction, QKeySequence

from kneeseg_app.core.identity import file_prefix
from kneeseg_app.ui.state.case_identity import case_text, identity_of, window_title

SEVERAL_PATIENTS_TITLE = "Several patients in this folder"


class IdentityWiring:
    """Keeps ``window``'s title and case panel naming the open case's patient (or hiding it)."""

    def __init__(self, window: Any) -> None:
        self.w = window
        self.hide_action = self._checkable(
            "&View", "Hide identifiers", window.settings.hide_identifiers, self.set_hidden, "Ctrl+Shift+H"
        )
        self.hide_action.setObjectName("hide_identifiers")
        self.hide_action.setStatusTip("Blank patient names, IDs, dates and accession numbers (screenshots, teaching)")
        self.names_action = self._checkable(
            "&File", "Patient ID in file names", not window.settings.anonymous_file_names, self._set_names_with_id
        )
        self.names_action.setObjectName("ids_in_file_names")
        self.names_action.setStatusTip("Name exported surfaces 12345_left_femur.stl (on) or left_femur.stl (off)")
        window.dialogs.hide_identifiers = self.hidden
        window.loader.ask_patients = lambda question: window.dialogs.confirm(SEVERAL_PATIENTS_TITLE, question)
        window.session.caseChanged.connect(lambda _case: self.refresh())  # after the window's own reaction
        window.recent_menu.aboutToShow.connect(self._mask_recent)

    def _checkable(self, menu_title: str, text: str, checked: bool, slot: Any, shortcut: str = "") -> QAction:
        menu = next((a.menu() for a in self.w.menuBar().actions() if a.text() == menu_title), None)
        action = QAction(text, self.w)
        action.setCheckable(True)
        action.setChecked(checked)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.toggled.connect(slot)
        if menu is not None:
            menu.addSeparator()
            menu.addAction(action)
        return action

    @property
    def hidden(self) -> bool:
        return self.hide_action.isChecked()

    @property
    def anonymous_names(self) -> bool:
        """True when exported files leave the patient ID out: asked for, or while identifiers are hidden
        (a suggested name in a save dialog, or 'Saved 12345_left_femur.stl', is on screen too)."""
        return not self.names_action.isChecked() or self.hidden

    def set_hidden(self, hidden: bool) -> None:
        """Hide (or show again) every identifier in the window."""
        if self.hide_action.isChecked() != hidden:
            self.hide_action.setChecked(hidden)  # toggled calls back here
            return
        self.w.settings.hide_identifiers = hidden
        self.w.dialogs.hide_identifiers = hidden
        self.refresh()

    def _set_names_with_id(self, with_id: bool) -> None:
        self.w.settings.anonymous_file_names = not with_id

    def file_identity(self) -> Any:
        """The identity to name files after (its ID is left out when the user asked so)."""
        return None if self.anonymous_names else identity_of(self.w.session.case)

    def file_base(self) -> str:
        """The start of a suggested file name: the patient ID, else the case's title; no identifier when
        file names leave them out (the title holds the folder's name)."""
        case = self.w.session.case
        prefix = file_prefix(identity_of(case), anonymous=self.anonymous_names) if case is not None else ""
        if prefix:
            return prefix.rstrip("_")
        if case is None or self.anonymous_names:
            return "kneeseg"
        return case.title

    def _mask_recent(self) -> None:
        """File > Recent lists folders, often named after the patient: numbered instead while hidden."""
        recent = self.w.settings.recent
        for action in self.w.recent_menu.actions():
            path = action.data() or action.text()
            if path in recent:
                action.setData(path)
                action.setText(f"Recent case {recent.index(path) + 1}" if self.hidden else path)

    def refresh(self) -> None:
        """Title and case panel for the open case, identifiers shown or hidden."""
        case = self.w.session.case
        sides = getattr(self.w, "sides", None)
        knee = sides.knee_line() if sides is not None else ""
        self.w.setWindowTitle(window_title(case, self.hidden))
        self.w.case_info.setText(case_text(case, self.hidden, knee) if case is not None else "No case open.")
