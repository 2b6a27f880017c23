"""Reference segmentations and metrics for the open case, in the background. No widgets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from kneeseg_app.core.labels import names_or_default
from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.controllers.workers import Task


def load_reference(path: Path, ct: Volume) -> Volume:
    """A reference label map (NIfTI/NRRD/MHA or DICOM SEG) on the CT's grid, read and checked
    by the core's one reader (LabelMapError with the reason if not)."""
    from kneeseg_app.core import imageio

    return imageio.read_label_map(path, reference=ct)


def compute_case_metrics(
    prediction: Volume, reference: Volume, label_names: dict[int, str] | None = None
) -> dict[str, Any]:
    """Metrics of a model result against the reference (bone name -> BoneMetrics): per side
    ('right femur', 'left femur', ...) when both hold two knees, the CLI's rule."""
    from kneeseg_app.core.metrics.sides import metrics_per_side

    return metrics_per_side(prediction, reference, names_or_default(label_names))


class ComparisonController(QObject):
    """Loads a reference for the current CT and computes metrics when both exist."""

    referenceLoaded = Signal(object, object, object)  # labels Volume, Path, the CT it was loaded for
    computed = Signal(object, object)  # dict bone -> BoneMetrics, (prediction, reference) compared
    failed = Signal(str, object)  # title, exception
    busyChanged = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[Task] = set()

    def load(self, path: str | Path, ct: Volume) -> None:
        path = Path(path)
        self._run(
            lambda p, c: load_reference(path, ct),
            lambda vol: self.referenceLoaded.emit(vol, path, ct),
            f"Cannot use {path.name} as reference",
        )

    def compute(self, prediction: Volume, reference: Volume, label_names: dict[int, str] | None = None) -> None:
        self._run(
            lambda p, c: compute_case_metrics(prediction, reference, label_names),
            lambda metrics: self.computed.emit(metrics, (prediction, reference)),
            "Cannot compute the metrics",
        )

    @property
    def busy(self) -> bool:
        return any(t.running for t in self._tasks)

    def _run(self, work, on_done, title: str) -> None:
        task = Task(work, name=title, parent=self)
        task.finished.connect(on_done)
        task.failed.connect(lambda exc: self.failed.emit(title, exc))
        task.done.connect(lambda: self._forget(task))
        self._tasks.add(task)
        self.busyChanged.emit(True)
        task.start()

    def _forget(self, task: Task) -> None:
        self._tasks.discard(task)
        task.deleteLater()
        self.busyChanged.emit(self.busy)
