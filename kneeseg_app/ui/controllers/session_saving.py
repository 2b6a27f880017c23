"""Writes a ``.kneeseg`` session file in the background. No widgets.

Compressing a 512 x 512 x 300 case's labels takes about a second; on the GUI thread the
window would freeze meanwhile. The core's :func:`~kneeseg_app.core.session_file.write_session`
runs in a :class:`~kneeseg_app.ui.controllers.workers.Task` with its progress and cancel;
the window only shows them. What is saved is fixed when the save starts (the caller hands
over snapshots), so edits made while the file is written belong to the next save.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QObject, QTimer, Signal

from kneeseg_app.core.session_file import SessionFile, write_session
from kneeseg_app.ui.controllers.workers import Task

_POLL_MS = 20
"""How often :meth:`SessionSaver.wait` looks whether the write has ended (its own event loop runs meanwhile)."""


class SessionSaver(QObject):
    """One session write at a time; ends with exactly one of ``saved``, ``failed``, ``cancelled``."""

    started = Signal(object)  # the Task, connected but not yet running
    progress = Signal(str, float)
    saved = Signal(object, object)  # the Path written, the result mark it holds
    failed = Signal(object)  # the exception (describe_exception gives its sentence)
    cancelled = Signal()
    done = Signal()  # after any of the three above

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.task: Task | None = None

    @property
    def busy(self) -> bool:
        """A write is running (until its end signal has been handled)."""
        return self.task is not None and self.task.running

    def save(self, target: Path, make_record: Callable[[], SessionFile], protected: Iterable[Path], mark: Any) -> Task:
        """Start writing ``make_record()`` to ``target``: both run in the worker.

        ``make_record`` must read snapshots only (the window keeps changing); ``mark`` is the
        session's result mark when the snapshot was taken, handed back with ``saved``.
        """
        if self.busy:
            raise RuntimeError("a session is already being saved")
        protected = tuple(protected)

        def work(progress: Any, cancel: Any) -> Path:
            return write_session(target, make_record(), protected, progress=progress, cancel=cancel)

        task = Task(work, name="save session", parent=self, keep_finished_work=True)  # written is written
        task.progress.connect(self.progress)
        task.finished.connect(lambda path: self.saved.emit(Path(path), mark))
        task.failed.connect(self.failed)
        task.cancelled.connect(self.cancelled)
        task.done.connect(self.done)
        self.task = task
        self.started.emit(task)
        return task.start()

    def cancel(self) -> None:
        """Stop the running write (nothing is left at the target); ``cancelled`` follows."""
        if self.task is not None:
            self.task.cancel()

    def wait(self) -> None:
        """Return once the running write has ended and its end signal was handled (events keep flowing)."""
        task = self.task
        if task is None or not task.running:
            return
        loop = QEventLoop()
        task.done.connect(loop.quit)  # queued after the task's own "not running" slot
        # The worker may have emitted ``done`` already, its delivery still queued: a queued emission
        # carries the slots connected when it was made, not ``loop.quit`` connected just now. So the
        # loop also looks at ``running`` itself (a hang of the test suite under load showed it).
        poll = QTimer(self)
        poll.setInterval(_POLL_MS)
        poll.timeout.connect(lambda: None if task.running else loop.quit())
        poll.start()
        try:
            if task.running:
                loop.exec()
        finally:
            poll.stop()
            poll.deleteLater()
