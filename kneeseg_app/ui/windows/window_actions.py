"""What the menu and toolbar actions do: ask (through DialogService), then delegate.

Kept apart from the main window so that ``main_window`` only builds and wires. Every
write is refused inside the opened input folders, and an existing file is replaced
only after the user said yes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from kneeseg_app.core.protection import refuse_input_folders
from kneeseg_app.core.session_file import SESSION_SUFFIX
from kneeseg_app.ui.controllers import exporting, side_files
from kneeseg_app.ui.controllers.loading import IMAGE_FILE_FILTER, LABEL_FILE_FILTER


class ActionHost(Protocol):
    """What the actions use of the main window: its controllers and services, no widgets' insides.

    A protocol instead of an import of ``MainWindow`` keeps the two modules out of a cycle.
    """

    dialogs: Any
    settings: Any
    session: Any
    loader: Any
    segmenter: Any
    comparison: Any
    models: Any
    run_panel: Any
    viewer: Any
    viewer_state: Any
    export_task: Any
    batch_window: Any
    sessions: Any

    def statusBar(self) -> Any: ...  # noqa: N802 (Qt's name)


CONTROLS_HELP = """<b>Mouse</b><br>
Left click / drag: move the cursor (all views follow)<br>
Right drag: window (left/right) and level (up/down)<br>
Middle drag or Shift + left drag: pan<br>
Wheel: next/previous slice &nbsp;·&nbsp; Ctrl + wheel: zoom<br>
Double-click a view's name: show it alone / all views<br>
With an edit tool (Edit tab): left drag / click paints, erases, fills or picks a piece<br><br>
<b>Keys</b> (in the view under the mouse)<br>
Up/Down, Left/Right: one slice &nbsp;·&nbsp; PageUp/PageDown: ten slices<br>
+ / -: zoom &nbsp;·&nbsp; Home: fit the image<br>
B: brush &nbsp;·&nbsp; E: eraser &nbsp;·&nbsp; F: fill &nbsp;·&nbsp; Esc: no tool
&nbsp;·&nbsp; Ctrl+Z: undo &nbsp;·&nbsp; Ctrl+Y / Ctrl+Shift+Z: redo<br><br>
Positions are shown in LPS patient coordinates (DICOM): x grows to the patient's Left,
y to Posterior, z to Superior. Views use the radiological convention."""


class WindowActions:
    """The flows behind File, Models and Tools menu entries."""

    def __init__(self, window: ActionHost) -> None:
        self.w = window

    @property
    def dialogs(self):
        return self.w.dialogs

    # ----- opening ---------------------------------------------------------------
    def open_folder(self) -> None:
        folder = self.dialogs.choose_folder("Open a CT folder (DICOM)", self.w.settings.last_folder)
        if folder:
            self.open_path(folder)

    def open_file(self) -> None:
        path = self.dialogs.choose_open_file("Open a CT image", self.w.settings.last_folder, IMAGE_FILE_FILTER)
        if path:
            self.open_path(path)

    def open_path(self, path: str | Path) -> bool:
        """Open a folder or file (a ``.kneeseg`` file as a session), after asking what leaving the case needs."""
        path = Path(path)
        if not path.exists():
            self.dialogs.error("Cannot open", f"{path} does not exist (moved or deleted?).")
            return False
        if path.suffix.lower() == SESSION_SUFFIX:
            return self.w.sessions.open_session(path)
        if not self.w.sessions.may_leave_case("open another case"):
            return False
        self.w.loader.open_path(path)
        return True

    def open_demo(self) -> bool:
        if not self.w.sessions.may_leave_case("open the demo case"):
            return False
        self.w.loader.open_demo()
        return True

    def load_reference(self) -> None:
        volume = self.w.session.volume
        if volume is None:
            self.dialogs.info("No CT open", "Open a CT first; a reference segmentation belongs to a CT.")
            return
        start = str(self.w.session.case.source.parent) if self.w.session.case else ""
        path = self.dialogs.choose_open_file("Load a reference segmentation", start, LABEL_FILE_FILTER)
        if path:
            self.w.comparison.load(path, volume)

    # ----- saving ----------------------------------------------------------------------
    def _target(self, title: str, what: str, suffix: str, filters: str, suffixes: Sequence[str]) -> Path | None:
        return self.ask_target(title, what, suffix, filters, suffixes)

    def ask_target(
        self, title: str, what: str, suffix: str, filters: str, suffixes: Sequence[str], start: Path | None = None
    ) -> Path | None:
        """Ask where to write (``start``: the file suggested); refuse input folders; ask before replacing a file."""
        case = self.w.session.case
        folder = self.w.settings.last_folder
        identity = getattr(self.w, "identity", None)  # the patient ID, or no identifier at all when asked
        base = identity.file_base() if identity is not None else case.title if case else "kneeseg"
        name = exporting.suggested_name(base, what, suffix)
        suggested = str(start) if start is not None else str(Path(folder) / name) if folder else name
        chosen = self.dialogs.choose_save_file(title, suggested, filters)
        if not chosen:
            return None
        target = exporting.with_suffix(chosen, suffixes, suffix)
        try:
            refuse_input_folders(target, self.w.session.protected_paths)
        except Exception as exc:  # noqa: BLE001 - OutputError: say it, ask again later
            self.dialogs.exception("Choose another folder", exc)
            return None
        if target.exists() and not self.dialogs.confirm(
            "Replace the file?", f"{target.name} already exists in {target.parent}. Replace it?"
        ):
            return None
        return target

    def save_labels(self) -> Path | None:
        result = self.w.session.result
        if result is None:
            self.dialogs.info("Nothing to save", "Run a segmentation first; the label map is its result.")
            return None
        target = self._target(
            "Save the label map", "labels", ".nii.gz", exporting.LABEL_FORMATS, exporting.LABEL_SUFFIXES
        )
        if target is None:
            return None
        saved = self._write(
            "Cannot save the label map",
            lambda: exporting.save_label_map(result.labels, target, self.w.session.protected_paths, True),
        )
        if saved is not None and self.w.session.result is result:
            self.w.session.mark_saved()  # the reviewed labels are on disk: leaving the case loses nothing
        return saved

    def save_dicom_seg(self) -> Path | None:
        """The result as a DICOM SEG of the open CT's slices (for PACS and 3D Slicer)."""
        result, ct = self.w.session.result, self.w.session.volume
        if result is None or ct is None:
            self.dialogs.info("Nothing to save", "Run a segmentation first; the DICOM SEG is made from its result.")
            return None
        problem = exporting.dicom_seg_problem(ct)
        if problem:
            self.dialogs.info("Cannot save as DICOM SEG", problem)
            return None
        if not self.failing_result_confirmed("DICOM SEG"):
            return None
        target = self._target("Save as DICOM SEG", "seg", ".dcm", exporting.SEG_FORMATS, exporting.SEG_SUFFIXES)
        if target is None:
            return None
        names = dict(getattr(result, "label_names", None) or {})
        model = str(getattr(result, "model_name", ""))
        protected = self.w.session.protected_paths
        return self._write(
            "Cannot save the DICOM SEG",
            lambda: exporting.save_dicom_seg(result.labels, ct, target, protected, True, model, names),
        )

    def save_screenshot(self) -> Path | None:
        target = self._target("Save a screenshot of the views", "screenshot", ".png", "PNG (*.png)", (".png",))
        if target is None:
            return None
        pixmap = self.w.viewer.grab()
        return self._write(
            "Cannot save the screenshot",
            lambda: exporting.save_image(pixmap.save, target, self.w.session.protected_paths, True),
        )

    def export_metrics(self) -> Path | None:
        metrics = self.w.session.metrics
        if not metrics:
            self.dialogs.info("No metrics", "Load a reference segmentation and run a segmentation first.")
            return None
        target = self._target("Export the metrics table", "metrics", ".csv", "CSV (*.csv)", (".csv",))
        if target is None:
            return None
        case_id = self.w.session.case.title if self.w.session.case else "case"
        return self._write(
            "Cannot export the metrics",
            lambda: exporting.save_metrics_csv(metrics, case_id, target, self.w.session.protected_paths, True),
        )

    def export_surfaces(self) -> bool:
        """Bone surfaces of the result as STL (LPS mm, for CAD), built in the background."""
        result = self.w.session.result
        if result is None:
            self.dialogs.info("Nothing to export", "Run a segmentation first; the surfaces are made from its result.")
            return False
        if not self.failing_result_confirmed("bone surfaces (STL)"):
            return False
        folder = self.dialogs.choose_folder("Folder for the bone surfaces (STL)", self.w.settings.last_folder)
        if not folder:
            return False
        names = {k: v for k, v in self.w.viewer_state.label_names.items() if k != 0}
        try:
            refuse_input_folders(folder, self.w.session.protected_paths)
        except Exception as exc:  # noqa: BLE001
            self.dialogs.exception("Choose another folder", exc)
            return False
        identity_wiring = getattr(self.w, "identity", None)
        identity = identity_wiring.file_identity() if identity_wiring is not None else None
        candidates = side_files.candidate_names(names, identity)
        existing = [name for name in candidates if (Path(folder) / name).exists()]
        if existing and not self.dialogs.confirm(
            "Replace the files?", f"{', '.join(existing)} already exist in {folder}. Replace them?"
        ):
            return False
        from kneeseg_app.ui.controllers.workers import Task

        ct, protected = self.w.session.volume, list(self.w.session.protected_paths)

        def work(progress, cancel):  # one file per bone and side: 12345_left_femur.stl
            return side_files.export_surfaces_per_side(
                result.labels, ct, names, folder, identity, protected, progress, cancel
            )

        task = Task(work, name="export surfaces", parent=self.w)
        task.progress.connect(lambda stage, f: self.w.statusBar().showMessage(f"Exporting surfaces: {stage} {f:.0%}"))
        task.finished.connect(
            lambda paths: self.w.statusBar().showMessage(
                f"Saved {', '.join(Path(p).name for p in paths)} in {folder}", 8000
            )
        )
        task.failed.connect(lambda exc: self.dialogs.exception("Cannot export the surfaces", exc))
        self.w.export_task = task.start()
        return True

    def failing_result_confirmed(self, what: str) -> bool:
        """True unless the result failed its quality checks and the user declines exporting ``what``."""
        checks = getattr(self.w, "checks", None)
        question = checks.quality.export_question(what) if checks is not None else None
        return question is None or self.dialogs.confirm("Export a result that failed its checks?", question)

    def _write(self, title: str, write) -> Path | None:
        try:
            path = write()
        except Exception as exc:  # noqa: BLE001 - every failure reaches the user in words
            self.dialogs.exception(title, exc)
            return None
        self.w.settings.last_folder = str(Path(path).parent)
        self.w.statusBar().showMessage(f"Saved {path}", 8000)
        return Path(path)

    # ----- models and tools ----------------------------------------------------------
    def add_model(self) -> None:
        folder = self.dialogs.choose_folder("Choose a model package folder (with manifest.json)")
        if not folder:
            return
        try:
            entry = self.w.models.add_package(folder)
        except Exception as exc:  # noqa: BLE001
            self.dialogs.exception("Cannot add the model", exc)
            return
        self.dialogs.info("Model added", f"{entry.name} was copied to {entry.path.parent} and selected.")

    def open_batch(self) -> None:
        from kneeseg_app.ui.windows.batch_window import BatchWindow

        window = BatchWindow(self.w.models, self.dialogs, self.w.run_panel.options(), self.w)
        self.w.batch_window = window
        window.show()

    def show_controls(self) -> None:
        self.dialogs.info("Mouse and keys", CONTROLS_HELP)

    def show_about(self) -> None:
        from kneeseg_app import __version__

        self.dialogs.info(
            "About KneeSeg",
            f"KneeSeg {__version__}: femur and tibia segmentation in knee CT for prosthesis planning.\n\n"
            "Research software, NOT FOR CLINICAL USE. Results must be checked by a qualified person.",
        )
