"""Sessions and safe case switching in the main window: File > Save session / Open session,
and the Save / Discard / Cancel question before a case is left.

Kept out of ``main_window`` (which only builds and wires). The decisions are Qt-free
(:mod:`kneeseg_app.ui.state.case_guard`, :mod:`kneeseg_app.ui.state.session_record`,
:mod:`kneeseg_app.core.session_file`); this module asks through the DialogService,
reads and writes. A session is reopened on its CT: the CT is opened from where it was,
and the saved result is laid over it only when UIDs and grid are the session's.

Saving runs in the background (:class:`~kneeseg_app.ui.controllers.session_saving.SessionSaver`):
the status bar shows its progress and a Stop button. Leaving the case or closing the
window while a save runs waits for it first (a modal progress that can stop it), so a
file is never cut off and "saved" is known before the question "save before leaving?".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kneeseg_app.core.session_file import SESSION_SUFFIX, SessionFile, read_session
from kneeseg_app.ui.controllers.session_saving import SessionSaver
from kneeseg_app.ui.state.case_guard import CaseState, LeaveGuard
from kneeseg_app.ui.state.session_record import checks_dict, record_of, result_of
from kneeseg_app.ui.widgets.save_progress import SaveProgress

SESSION_FILTER = f"KneeSeg sessions (*{SESSION_SUFFIX});;All files (*)"


class SessionFlows:
    """Save and open sessions for ``window``; ask before its case is left."""

    def __init__(self, window: Any) -> None:
        self.w = window
        self.guard = LeaveGuard(
            confirm=lambda title, text: window.dialogs.confirm(title, text),
            ask_save=lambda title, text: window.dialogs.ask_save(title, text),
            save=self.save_and_wait,
        )
        self.path: Path | None = None
        """The session file of the open case (saved or opened), suggested when saving again."""
        self.pending: tuple[Path, SessionFile] | None = None
        """A session whose CT is being opened: applied when it arrives."""
        self._restored: tuple[Any, dict[str, Any]] | None = None
        """(result mark, checks) of a reopened session: its checks are saved again while unchanged."""
        loader = window.loader
        choose = loader.choose_series
        loader.choose_series = lambda scan: self._session_series(scan) or choose(scan)
        loader.loaded.connect(self._on_loaded)
        loader.failed.connect(lambda *_: self._drop_pending())
        loader.cancelled.connect(self._drop_pending)
        self.saver = SessionSaver(window)
        self.save_progress = SaveProgress()
        self.save_progress.setObjectName("save_progress")
        window.statusBar().addPermanentWidget(self.save_progress)
        self.save_progress.stopRequested.connect(self.saver.cancel)
        self.saver.started.connect(lambda _task: self.save_progress.begin("Saving the session…"))
        self.saver.progress.connect(self.save_progress.show_progress)
        self.saver.saved.connect(self._on_saved)
        self.saver.failed.connect(lambda exc: window.dialogs.exception("Cannot save the session", exc))
        self.saver.cancelled.connect(
            lambda: window.statusBar().showMessage("Saving the session was stopped; no file was written.", 8000)
        )
        self.saver.done.connect(self.save_progress.end)

    def add_menu_entries(self, recent_menu: Any) -> None:
        """File > Open session… (above Recent) and Save session… (above Save label map…)."""
        from PySide6.QtGui import QAction, QKeySequence

        menu = next(a.menu() for a in self.w.menuBar().actions() if a.text() == "&File")
        actions = menu.actions()
        save_labels = next((a for a in actions if a.text().startswith("Save label map")), None)
        self.open_action = QAction("Open session…", self.w)
        self.open_action.setStatusTip("A saved review: the CT, its model result and the edits")
        self.open_action.triggered.connect(lambda _checked=False: self.open_session())
        menu.insertAction(recent_menu.menuAction(), self.open_action)
        self.save_action = QAction("Save session…", self.w)
        self.save_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.save_action.setStatusTip("The model result, the edits and the checks, to reopen later on this CT")
        self.save_action.triggered.connect(lambda _checked=False: self.save_session())
        menu.insertAction(save_labels, self.save_action)

    # ----- leaving a case ----------------------------------------------------------------
    def case_state(self) -> CaseState:
        session = self.w.session
        edited = session.edits is not None and session.edits.edited
        return CaseState(unsaved=session.unsaved, edited=edited, segmenting=self.w.segmenter.running)

    def may_leave_case(self, action: str) -> bool:
        """Ask (save / discard / cancel; stop a running segmentation?); True when the case may go.

        A session still being written is waited for first: its outcome decides whether anything is unsaved.
        """
        self.wait_for_save()
        if not self.guard.may_leave(self.case_state(), action):
            return False
        self.w.segmenter.cancel()
        return True

    # ----- saving ---------------------------------------------------------------------------
    def save_session(self) -> bool:
        """Ask where (never into the input folders) and start writing the session in the background.

        True when the write started; ``saver.saved`` / ``failed`` / ``cancelled`` tell how it ended.
        """
        session = self.w.session
        if self.saver.busy:
            self.w.statusBar().showMessage("The session is still being saved.", 5000)
            return False
        if session.model_result is None or session.volume is None or session.case is None:
            self.w.dialogs.info("Nothing to save", "Run a segmentation first; a session holds its result and edits.")
            return False
        target = self.w.flows.ask_target(
            "Save the session", "session", SESSION_SUFFIX, SESSION_FILTER, (SESSION_SUFFIX,), self.path
        )
        if target is None:
            return False
        mark = session.result_mark()
        ct, source, model_result = session.volume, session.case.source, session.model_result
        edited, checks = self._edited_labels(), self._checks(mark)  # snapshots: editing goes on meanwhile
        self.saver.save(
            target, lambda: record_of(ct, source, model_result, edited, checks), session.protected_paths, mark
        )
        return True

    def save_and_wait(self) -> bool:
        """Save, and wait for the file (before the case is left): True when the result is saved."""
        if not self.save_session():
            return False
        self.wait_for_save()
        return not self.w.session.unsaved

    def wait_for_save(self) -> None:
        """Wait for a running save, behind a modal progress whose Stop stops it (returns at once when idle)."""
        if not self.saver.busy:
            return
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QProgressDialog

        dialog = QProgressDialog("Finishing saving the session…", "Stop saving", 0, 1000, self.w)
        dialog.setWindowTitle("Saving the session")
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        dialog.setMinimumDuration(0)
        dialog.canceled.connect(self.saver.cancel)

        def show(_stage: str, fraction: float) -> None:
            dialog.setValue(int(1000 * fraction))

        self.saver.progress.connect(show)
        try:
            self.saver.wait()
        finally:
            self.saver.progress.disconnect(show)
            dialog.canceled.disconnect(self.saver.cancel)
            dialog.hide()
            dialog.deleteLater()

    def _on_saved(self, path: Path, mark: Any) -> None:
        """The file is complete: the result as it was at ``mark`` counts as saved (later edits do not)."""
        self.w.session.mark_saved(mark)
        self.path = path
        self.w.settings.last_folder = str(path.parent)
        self.w.statusBar().showMessage(f"Saved the session {path}", 8000)

    def _edited_labels(self) -> Any:
        """The edited labels as they are now (the result's snapshot, not the live array), or None unedited."""
        session = self.w.session
        edited = session.edits is not None and session.edits.edited
        return session.result.labels.array if edited else None

    def _checks(self, mark: Any) -> dict[str, Any]:
        if self._restored is not None and self._restored[0] == mark:
            return self._restored[1]
        checks = getattr(self.w, "checks", None)
        quality = checks.quality if checks is not None and not checks.busy else None
        return checks_dict(quality.report if quality is not None else None)

    # ----- opening --------------------------------------------------------------------------
    def open_session(self, path: str | Path | None = None) -> bool:
        """Read a session, then open its CT; the result is restored when the CT arrives and fits."""
        if path is None:
            path = self.w.dialogs.choose_open_file("Open a session", self.w.settings.last_folder, SESSION_FILTER)
            if not path:
                return False
        try:
            record = read_session(path)
        except Exception as exc:  # noqa: BLE001
            self.w.dialogs.exception("Cannot open the session", exc)
            return False
        location = Path(record.ct.location)
        if not location.exists():
            self.w.dialogs.error(
                "Cannot open the session",
                f"The session's CT is no longer at {location} (moved or deleted?); the session needs its CT.",
            )
            return False
        if not self.may_leave_case("open the session"):
            return False
        self.pending = (Path(path), record)
        self.w.loader.open_path(location)
        return True

    def _session_series(self, scan: Any) -> Any:
        """The session's own series when its folder holds several (no question then)."""
        if self.pending is None or not self.pending[1].ct.series_instance_uid:
            return None
        uid = self.pending[1].ct.series_instance_uid
        return next((s for s in scan.series if getattr(s, "series_uid", "") == uid), None)

    def _drop_pending(self) -> None:
        self.pending = None

    def _on_loaded(self, case: Any) -> None:
        """Another case arrived: it starts unsaved-free; a pending session is laid over its CT if it fits."""
        self.path = None
        self._restored = None
        if self.pending is None:
            return
        path, record = self.pending
        self.pending = None
        reason = record.ct.mismatch(case.volume)
        if reason:
            self.w.dialogs.error("Cannot open the session", f"{reason} The CT was opened without the session.")
            return
        self.restore(record, case.volume)
        self.path = path
        self.w.statusBar().showMessage(f"Opened the session {path}", 8000)

    def restore(self, record: SessionFile, ct: Any) -> None:
        """The session's model result, then its edits as one undo step; the case counts as saved."""
        session = self.w.session
        session.set_result(result_of(record, ct), record.model_name)
        if record.edited_labels is not None and session.editor is not None:
            session.editor.replace_labels(record.edited_labels, "Restore the session's edits")
        session.mark_saved()
        self._restored = (session.result_mark(), dict(record.checks))
