"""Running a model on the open CT in the background, cancellable. No widgets.

The viewer stays usable while the engine runs on a pool thread; ``cancel()`` sets the
CancelToken the engine polls (and that terminates a running onnxruntime call), so a
run stops within about a second.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from kneeseg_app.core.checks.input import check_input
from kneeseg_app.core.errors import KneeSegError, ModelError
from kneeseg_app.core.inference.settings import default_threads
from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.controllers.workers import Task


@dataclass(frozen=True)
class RunOptions:
    """What the user chose in the segmentation panel."""

    tta: bool | None = None
    """None: as the model's manifest says (``default_tta``), as the CLI does; True/False: the user's choice."""
    threads: int = 0
    """0: the engine's default (:func:`automatic_threads`, the one rule in core)."""


def available_threads() -> int:
    """The most threads the box offers (every logical core)."""
    return max(1, os.cpu_count() or 1)


def automatic_threads() -> int:
    """The threads a run with ``threads=0`` really uses: the engine's own default."""
    return default_threads()


def model_default_tta(package: Any) -> bool:
    """Whether ``package``'s manifest asks for test-time mirroring by default (False without a model)."""
    inference = getattr(getattr(package, "manifest", None), "inference", None)
    return bool(getattr(inference, "default_tta", False))


def run_segmentation(package: Any, volume: Volume, options: RunOptions, progress, cancel) -> Any:
    """Segment ``volume`` with ``package`` (imports the engine, hence onnxruntime, lazily)."""
    from kneeseg_app.core.inference import engine

    segment_options = engine.SegmentOptions(tta=options.tta, threads=options.threads or None)
    return engine.Segmenter(package, segment_options).run(volume, progress=progress, cancel=cancel)


def describe_result(result: Any) -> str:
    """'femur 412.3 mL, tibia 298.1 mL in 12.4 s' for the status line."""
    volumes = ", ".join(f"{bone} {ml:.1f} mL" for bone, ml in (getattr(result, "volumes_ml", {}) or {}).items())
    return f"{volumes or 'no bone found'} in {float(getattr(result, 'seconds', 0.0)):.1f} s"


class SegmentController(QObject):
    """One segmentation run at a time; reports stage, percentage and elapsed time."""

    started = Signal(str)  # model name
    progress = Signal(str, float)
    elapsed = Signal(float)  # seconds, every 0.25 s while running
    finished = Signal(object, str)  # SegmentationResult, model name
    failed = Signal(str, object)  # title, exception
    cancelled = Signal()
    runningChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.task: Task | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(250)
        self._timer.timeout.connect(lambda: self.elapsed.emit(self.task.elapsed_s if self.task else 0.0))

    @property
    def running(self) -> bool:
        return self.task is not None and self.task.running

    def run(self, package: Any, volume: Volume | None, options: RunOptions) -> bool:
        """Start a run; False (with ``failed``) when it cannot start."""
        if self.running:
            return False
        if volume is None:
            self.failed.emit("Nothing to segment", ModelError("Open a CT first (File > Open DICOM folder)."))
            return False
        if package is None:
            self.failed.emit("No model", ModelError("Choose a usable model in the Model panel first."))
            return False
        try:  # not a knee CT (head, MR values, a label map): refused before any work, as in the CLI
            check_input(volume)
        except KneeSegError as exc:
            self.failed.emit("Not a knee CT", exc)
            return False
        name = str(getattr(getattr(package, "manifest", None), "name", "") or getattr(package, "name", "model"))
        task = Task(lambda p, c: run_segmentation(package, volume, options, p, c), name=name, parent=self)
        task.progress.connect(self.progress)
        task.finished.connect(lambda result: self.finished.emit(result, name))
        task.failed.connect(lambda exc: self.failed.emit("Segmentation failed", exc))
        task.cancelled.connect(self.cancelled)
        task.done.connect(self._on_done)
        self.task = task
        task.start()  # running from here on, so the slots below see it
        self.started.emit(name)
        self.runningChanged.emit(True)
        self._timer.start()
        return True

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _on_done(self) -> None:
        self._timer.stop()
        self.runningChanged.emit(False)
