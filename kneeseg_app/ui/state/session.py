"""The case open in the window: CT, model result, reference, metrics. No widgets.

One object owns "what is loaded", so saving, metrics and the viewer always refer to
the same case, and dropping a case drops its result and reference together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from kneeseg_app.core.protection import input_folders
from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.state.edited_result import EditedResult


@dataclass
class LoadedCase:
    """A CT volume as opened by the user, with where it came from."""

    volume: Volume
    source: Path
    """The folder or file the user opened."""
    protected: tuple[Path, ...] = ()
    """Input locations the app must never write into."""
    series: Any | None = None
    """The DICOM SeriesInfo read, if any."""
    reference_path: Path | None = None
    """A reference segmentation that belongs to the case (the demo has one)."""
    description: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        if self.description:
            return self.description
        dicom = self.volume.dicom
        if dicom is not None and dicom.series_description:
            return f"{self.source.name} - {dicom.series_description}"
        return self.source.name


class CaseSession(QObject):
    """Holds the current case and what was computed for it."""

    caseChanged = Signal(object)  # LoadedCase | None
    resultChanged = Signal(object)  # SegmentationResult | None
    referenceChanged = Signal(object)  # Volume | None
    metricsChanged = Signal(object)  # dict[str, BoneMetrics] | None
    resultEdited = Signal()  # the edited labels changed: a finished stroke or tool, undo, redo, revert

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.case: LoadedCase | None = None
        self.edits: EditedResult | None = None
        """The model's result and the user's edits of it (None: no result)."""
        self.model_name: str = ""
        self.reference: Volume | None = None
        self.reference_path: Path | None = None
        self.metrics: dict[str, Any] | None = None
        self._result_serial = 0
        self._saved_mark: tuple[int, int] | None = None

    # ----- saved or not ------------------------------------------------------------------
    def result_mark(self) -> tuple[int, int] | None:
        """Which result and which edit of it is shown now (None: no result); equal marks, same labels."""
        if self.edits is None:
            return None
        return (self._result_serial, int(self.edits.editor.version))

    def mark_saved(self, mark: tuple[int, int] | None = None) -> None:
        """The result as it is now (or as it was at ``mark``, for a save that ran in the background)
        was saved (session or label map): leaving it loses nothing unless it changed since."""
        self._saved_mark = mark if mark is not None else self.result_mark()

    @property
    def unsaved(self) -> bool:
        """A result (the model's, or edited) that was not saved since it last changed."""
        mark = self.result_mark()
        return mark is not None and mark != self._saved_mark

    @property
    def result(self) -> Any | None:
        """The result everything reads and exports: the model's, with the user's edits."""
        return self.edits.current() if self.edits is not None else None

    @result.setter
    def result(self, result: Any | None) -> None:
        self.edits = EditedResult(result, self.volume) if result is not None else None
        self._result_serial += 1
        if self.edits is not None:
            self.edits.editor.subscribe(self._on_edit)

    def _on_edit(self, event: Any) -> None:
        if event.kind != "stroke":  # live stroke points only redraw; the finished stroke counts
            self.resultEdited.emit()

    @property
    def model_result(self) -> Any | None:
        """The model's result exactly as it came, whatever was edited."""
        return self.edits.model_result if self.edits is not None else None

    @property
    def editor(self) -> Any | None:
        """The LabelEditor of the result (None without a result)."""
        return self.edits.editor if self.edits is not None else None

    @property
    def volume(self) -> Volume | None:
        return self.case.volume if self.case is not None else None

    @property
    def protected_paths(self) -> tuple[Path, ...]:
        """Everything the user opened: results are never written inside these."""
        paths = list(self.case.protected) if self.case else []
        if self.reference_path is not None:
            paths.append(self.reference_path)
        return input_folders(paths)

    def set_case(self, case: LoadedCase | None) -> None:
        self.case = case
        self.result = None
        self.reference = None
        self.reference_path = None
        self.metrics = None
        self.caseChanged.emit(case)
        self.resultChanged.emit(None)
        self.referenceChanged.emit(None)
        self.metricsChanged.emit(None)

    def set_result(self, result: Any | None, model_name: str = "") -> None:
        self.result = result
        self.model_name = model_name
        self.set_metrics(None)
        self.resultChanged.emit(result)

    def set_reference(self, reference: Volume | None, path: Path | None = None) -> None:
        self.reference = reference
        self.reference_path = Path(path) if path is not None else None
        self.set_metrics(None)
        self.referenceChanged.emit(reference)

    def set_metrics(self, metrics: dict[str, Any] | None) -> None:
        self.metrics = metrics
        self.metricsChanged.emit(metrics)

    def can_compare(self) -> bool:
        return self.result is not None and self.reference is not None
