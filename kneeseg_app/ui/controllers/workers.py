"""Background work for the window: core functions run off the GUI thread.

A ``Task`` wraps any core call that takes ``(progress, cancel)``; it runs on a
QThreadPool thread, reports progress through Qt signals (throttled so a fast loop
cannot flood the event loop), and ends with exactly one of ``finished(result)``,
``failed(exception)`` or ``cancelled()``, always delivered on the GUI thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from kneeseg_app.core.errors import Cancelled
from kneeseg_app.core.progress import CancelToken, ProgressCallback

log = logging.getLogger(__name__)

Work = Callable[[ProgressCallback, CancelToken], Any]

_POOL: QThreadPool | None = None


def task_pool() -> QThreadPool:
    """The window's own thread pool.

    Qt's global pool has one thread per core (two on a small laptop): a long
    segmentation plus a surface build would leave a new case waiting to open. Work here
    is numpy/onnxruntime code that releases the GIL, so a few more threads than cores
    keep the window responsive without slowing the big jobs much.
    """
    global _POOL
    if _POOL is None:
        import os

        _POOL = QThreadPool()
        _POOL.setMaxThreadCount(max(6, (os.cpu_count() or 2) + 2))
    return _POOL


class Task(QObject):
    """One cancellable background job; create it, connect its signals, ``start()`` it."""

    progress = Signal(str, float)  # stage, fraction in [0, 1]
    finished = Signal(object)
    failed = Signal(object)  # the exception
    cancelled = Signal()
    done = Signal()  # after any of the three above

    def __init__(
        self,
        work: Work,
        name: str = "",
        min_interval_s: float = 0.05,
        parent: QObject | None = None,
        *,
        keep_finished_work: bool = False,
    ) -> None:
        super().__init__(parent)
        self.name = name
        self.keep_finished_work = keep_finished_work
        """A Stop that comes after the work has returned leaves its result standing (``finished``): for
        work whose result is already on disk (a written file), "stopped" would be untrue."""
        self.token = CancelToken()
        self._work = work
        self._min_interval_s = min_interval_s
        self._last_emit = 0.0
        self.started_at = 0.0
        self.running = False
        """True from ``start()`` until its end signals have been delivered on the GUI thread."""
        self.done.connect(self._mark_done)

    def start(self, pool: QThreadPool | None = None) -> Task:
        self.running = True
        self.started_at = time.monotonic()
        (pool or task_pool()).start(_Runner(self))
        return self

    def cancel(self) -> None:
        """Ask the work to stop (returns at once; ``cancelled`` follows from the worker)."""
        self.token.cancel()

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started_at if self.started_at else 0.0

    def _report(self, stage: str, fraction: float) -> None:
        now = time.monotonic()
        if fraction >= 1.0 or now - self._last_emit >= self._min_interval_s:
            self._last_emit = now
            self.progress.emit(str(stage), float(fraction))
        self.token.raise_if_cancelled()

    def _run(self) -> None:
        try:
            result = self._work(self._report, self.token)
            if self.token.cancelled and not self.keep_finished_work:
                raise Cancelled()
        except Cancelled:
            self._end(self.cancelled.emit)
        except BaseException as exc:  # noqa: BLE001 - the GUI shows every failure, never dies
            if not isinstance(exc, Exception):
                log.error("background task %s stopped: %r", self.name, exc)
            if self.token.cancelled:
                self._end(self.cancelled.emit)
            else:
                log.debug("background task %s failed", self.name, exc_info=True)
                error = exc
                self._end(lambda: self.failed.emit(error))
        else:
            self._end(lambda: self.finished.emit(result))

    def _end(self, emit: Callable[[], None]) -> None:
        emit()
        self.done.emit()

    def _mark_done(self) -> None:
        # Runs on the GUI thread after the end signal's slots (queued in order), so
        # "not running" never shows before the result has been handled.
        self.running = False


class _Runner(QRunnable):
    def __init__(self, task: Task) -> None:
        super().__init__()
        self._task = task
        self.setAutoDelete(True)

    def run(self) -> None:
        self._task._run()
