"""Progress reporting and cancellation passed into long-running core functions.

The core never knows about widgets (3D Slicer's pattern): callers pass a
``ProgressCallback`` and a :class:`CancelToken`; the UI wires them to signals.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from kneeseg_app.core.errors import Cancelled

ProgressCallback = Callable[[str, float], None]
"""``callback(stage, fraction)``: stage is a short human label, fraction in [0, 1]."""


def no_progress(stage: str, fraction: float) -> None:
    """Default callback that ignores progress."""


class CancelToken:
    """Thread-safe flag set by the UI thread and polled by workers.

    Listeners (e.g. onnxruntime's ``RunOptions.terminate``) can be registered so that
    work already in flight stops too, not only work that checks the flag.
    """

    def __init__(self) -> None:
        self._event = threading.Event()
        self._listeners: list[Callable[[], None]] = []
        self._lock = threading.Lock()

    def cancel(self) -> None:
        """Request cancellation; safe to call from any thread, more than once."""
        with self._lock:
            self._event.set()
            listeners = list(self._listeners)
        for listener in listeners:
            listener()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        """Raise :class:`Cancelled` if cancellation was requested."""
        if self._event.is_set():
            raise Cancelled()

    def add_listener(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener`` on cancel (at once if already cancelled); returns a remover."""
        with self._lock:
            already = self._event.is_set()
            if not already:
                self._listeners.append(listener)
        if already:
            listener()

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return remove


class SupportsProgress(Protocol):
    def __call__(self, stage: str, fraction: float) -> None: ...


def scaled(callback: ProgressCallback, start: float, end: float) -> ProgressCallback:
    """Map a sub-task's [0, 1] progress onto [start, end] of the parent's."""

    def report(stage: str, fraction: float) -> None:
        callback(stage, start + (end - start) * min(max(fraction, 0.0), 1.0))

    return report
