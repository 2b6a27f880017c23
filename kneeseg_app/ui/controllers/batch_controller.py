"""Runs a batch evaluation in the background (cancellable); no widgets, no decisions.

The logic (case layout, running, summaries, exports) is in :mod:`batch_logic`; this
class only moves it off the GUI thread and turns its callbacks into signals.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from kneeseg_app.core.errors import InputError
from kneeseg_app.ui.controllers import batch_logic
from kneeseg_app.ui.controllers.segmentation import RunOptions
from kneeseg_app.ui.controllers.workers import Task


class BatchController(QObject):
    started = Signal(int, int)  # cases, models
    progress = Signal(str, float)
    outcome = Signal(object)  # CaseOutcome, as each one completes
    finished = Signal(object)  # BatchResult
    failed = Signal(str, object)  # title, exception
    cancelled = Signal()
    runningChanged = Signal(bool)
    skipped = Signal(list)  # sentences about entries that are not cases

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.task: Task | None = None
        self.result: batch_logic.BatchResult | None = None
        """The finished batch, or the cases done before a cancel (``cancelled`` set)."""
        self._partial = batch_logic.BatchResult()
        self.outcome.connect(lambda outcome: self._partial.outcomes.append(outcome))

    @property
    def running(self) -> bool:
        return self.task is not None and self.task.running

    def start(self, source: str | Path, packages: Sequence[Any], options: RunOptions | None = None) -> bool:
        """Find the cases and start; False (with ``failed``) when nothing can run."""
        if self.running:
            return False
        try:
            if not packages:
                raise InputError("Choose at least one model for the batch.")
            cases, skipped = batch_logic.find_cases(source)
        except Exception as exc:  # noqa: BLE001 - shown to the user by the window
            self.failed.emit("Cannot start the batch", exc)
            return False
        if skipped:
            self.skipped.emit(skipped)
        segment = _engine_segment(options or RunOptions())
        packages = list(packages)

        def work(progress, cancel):
            return batch_logic.run_batch(cases, packages, segment, progress, cancel, on_outcome=self.outcome.emit)

        task = Task(work, name="batch", parent=self)
        task.progress.connect(self.progress)
        task.finished.connect(self._on_finished)
        task.failed.connect(lambda exc: self.failed.emit("The batch stopped", exc))
        task.cancelled.connect(self._on_cancelled)
        task.done.connect(lambda: self.runningChanged.emit(False))
        self.task = task
        self.result = None
        self._partial = batch_logic.BatchResult()
        self.started.emit(len(cases), len(packages))
        self.runningChanged.emit(True)
        task.start()
        return True

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _on_finished(self, result: batch_logic.BatchResult) -> None:
        self.result = result
        self.finished.emit(result)

    def _on_cancelled(self) -> None:
        self._partial.cancelled = True
        self.result = self._partial
        self.cancelled.emit()


def _engine_segment(options: RunOptions) -> batch_logic.Segment:
    from kneeseg_app.core.inference import engine

    return batch_logic.engine_segment(engine.SegmentOptions(tta=options.tta, threads=options.threads or None))
