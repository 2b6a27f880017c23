"""Opening cases in the background: folder scan, series choice, volume read. No widgets.

Decisions live here (which series, what to warn about, what is protected from
writes); the window only supplies ``choose_series`` (a dialog), ``ask_fill_gap`` (a
yes/no question naming a gap of missing slices) and shows the signals.
The core readers are imported when first used, so the window opens quickly.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from kneeseg_app.core.progress import CancelToken, ProgressCallback, scaled
from kneeseg_app.core.protection import input_folders
from kneeseg_app.ui.controllers.workers import Task
from kneeseg_app.ui.state.session import LoadedCase

SeriesChooser = Callable[[Any], Any]
"""``chooser(scan_result) -> SeriesInfo | None`` (None: the user cancelled)."""
GapQuestion = Callable[[str], bool]
"""``ask(question) -> True`` to fill a gap of missing slices by interpolation."""

IMAGE_FILE_FILTER = "Images (*.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd *.dcm);;All files (*)"
LABEL_FILE_FILTER = "Label maps (*.nii *.nii.gz *.nrrd *.mha *.mhd *.dcm);;All files (*)"


def scan_warnings(scan: Any) -> list[str]:
    """What the user should know about a folder scan besides the series read."""
    notes: list[str] = []
    unreadable = list(getattr(scan, "unreadable_files", []) or [])
    if unreadable:
        notes.append(f"{len(unreadable)} file(s) in the folder could not be read as DICOM and were skipped.")
    return notes


def protected_for(path: Path, volume: Any = None) -> tuple[Path, ...]:
    """Input folders that results must never be written into (the core's one rule)."""
    return input_folders((path,), volume)


class LoadController(QObject):
    """Opens a folder (choosing a series), an image file or the demo case."""

    started = Signal(str)  # what is being opened
    progress = Signal(str, float)
    loaded = Signal(object)  # LoadedCase
    failed = Signal(str, object)  # title, exception
    cancelled = Signal()
    idle = Signal()

    def __init__(
        self, choose_series: SeriesChooser, parent: QObject | None = None, ask_fill_gap: GapQuestion | None = None
    ) -> None:
        super().__init__(parent)
        self.choose_series = choose_series
        self.ask_fill_gap = ask_fill_gap
        self.ask_patients: GapQuestion | None = None
        """``ask(question) -> True`` to go on with a folder holding several patients' scans (None: not asked)."""
        self.task: Task | None = None

    @property
    def busy(self) -> bool:
        return self.task is not None and self.task.running

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()

    # ----- entry points ------------------------------------------------------
    def open_path(self, path: str | Path, reference_path: Path | None = None, description: str = "") -> None:
        """Open a DICOM folder or an image file (a lone .dcm opens its series)."""
        path = Path(path)
        context = {"reference_path": reference_path, "description": description}
        if path.is_dir():
            self._start(
                f"Scanning {path.name}", lambda p, c: _scan(path, p, c), lambda scan: self._scanned(path, scan, context)
            )
        else:
            self._start(
                f"Reading {path.name}",
                lambda p, c: _open_file(path, p, c),
                lambda vol: self._finish(path, vol, None, [], context),
                gapped=lambda p, c: _open_file(path, p, c, allow_gaps=True),
            )

    def open_demo(self) -> None:
        """Prepare (first time: generate) the bundled demo case, then open it."""

        def prepare(progress: ProgressCallback, cancel: CancelToken) -> Any:
            from kneeseg_app.core import demo

            return demo.demo_case(progress, cancel)

        self._start("Preparing the demo case", prepare, self._demo_ready, title="Cannot open the demo case")

    # ----- steps -----------------------------------------------------------
    def _demo_ready(self, case: Any) -> None:
        self.open_path(
            Path(case.dicom_dir), reference_path=Path(case.reference_path), description=str(case.description)
        )

    def _scanned(self, folder: Path, scan: Any, context: dict) -> None:
        question = scan.patients_question() if self.ask_patients is not None else ""
        if question and not self.ask_patients(question):  # type: ignore[misc]
            self.cancelled.emit()
            self.idle.emit()
            return
        try:
            # one CT candidate (or none): best() returns it or raises the typed reason (not CT, ...)
            several_ct = sum(1 for s in scan.series if getattr(s, "modality", "CT") == "CT") > 1
            chosen = self.choose_series(scan) if several_ct else scan.best()
        except Exception as exc:  # noqa: BLE001
            self._fail(f"Cannot open {folder.name}", exc)
            return
        if chosen is None:
            self.cancelled.emit()
            self.idle.emit()
            return
        notes = scan_warnings(scan)
        self._start(
            f"Reading {getattr(chosen, 'description', '') or folder.name}",
            lambda p, c: _read_series(chosen, p, c),
            lambda vol: self._finish(folder, vol, chosen, notes, context),
            gapped=lambda p, c: _read_series(chosen, p, c, allow_gaps=True),
        )

    def _finish(self, source: Path, volume: Any, series: Any, notes: list[str], context: dict) -> None:
        case = LoadedCase(
            volume=volume,
            source=source,
            protected=protected_for(source, volume),
            series=series,
            reference_path=context.get("reference_path"),
            description=context.get("description") or "",
            warnings=[*notes, *list(volume.warnings)],
        )
        self.loaded.emit(case)
        self.idle.emit()

    # ----- task plumbing -------------------------------------------------------
    def _start(self, label: str, work, on_done: Callable[[Any], None], title: str = "", gapped: Any = None) -> None:
        """Run ``work`` in the background; ``gapped`` is the same work filling gaps, offered when slices are missing."""
        if self.task is not None and self.task.running:
            self.task.cancel()
        task = Task(work, name=label, parent=self)
        current = lambda: task is self.task  # noqa: E731 - a replaced task's late signals are dropped
        task.progress.connect(lambda stage, f: current() and self.progress.emit(stage, f))
        task.finished.connect(lambda result: current() and on_done(result))
        task.failed.connect(lambda exc: current() and self._failed(label, title, exc, on_done, gapped))
        task.cancelled.connect(lambda: current() and self._on_cancelled())
        self.task = task
        self.started.emit(label)
        task.start()

    def _on_cancelled(self) -> None:
        self.cancelled.emit()
        self.idle.emit()

    def _failed(self, label: str, title: str, exc: BaseException, on_done: Callable[[Any], None], gapped: Any) -> None:
        """Slices missing: ask whether to fill the gap (the answer re-reads with interpolation); else report."""
        question = gap_question(exc) if gapped is not None and self.ask_fill_gap is not None else ""
        if question and self.ask_fill_gap(question):  # type: ignore[misc]
            self._start(label, gapped, on_done, title)
            return
        self._fail(title or f"Cannot open {label.split(' ', 1)[-1]}", exc)

    def _fail(self, title: str, exc: BaseException) -> None:
        self.failed.emit(title, exc)
        self.idle.emit()


def gap_question(exc: BaseException) -> str:
    """The question put to the user for a series with missing slices, naming the gap; '' for other errors."""
    from kneeseg_app.core.errors import SliceGapError

    if not isinstance(exc, SliceGapError) or not exc.gaps:
        return ""
    gap: Any = exc.gaps[0]
    more = f" (and {len(exc.gaps) - 1} more gap(s))" if len(exc.gaps) > 1 else ""
    return (
        f"Slices are missing: a {gap.width_mm:.1f} mm gap {gap.where()}{more}, where the series advances by "
        f"{gap.nominal_step_mm:.2f} mm. Fill it by interpolating between the slices on either side? "
        "The filled slices are invented, not measured; they are listed with the result."
    )


def _scan(folder: Path, progress: ProgressCallback, cancel: CancelToken) -> Any:
    from kneeseg_app.core import dicom

    return dicom.scan_folder(folder, progress=scaled(progress, 0.0, 1.0), cancel=cancel)


def _read_series(series: Any, progress: ProgressCallback, cancel: CancelToken, allow_gaps: bool = False) -> Any:
    from kneeseg_app.core import dicom

    return dicom.read_series(series, progress=progress, cancel=cancel, allow_gaps=allow_gaps)


def _open_file(path: Path, progress: ProgressCallback, cancel: CancelToken, allow_gaps: bool = False) -> Any:
    from kneeseg_app.core import imageio

    return imageio.open_volume(path, progress=progress, cancel=cancel, allow_gaps=allow_gaps)
