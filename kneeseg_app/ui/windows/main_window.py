"""The main window: builds the panels and wires controllers to them (no logic here).

Open a CT, look at it, pick a model, segment, check the result, compare with a
reference. State lives in the controllers (session, viewer state, loader, segmenter,
comparison, models, surfaces); the flows behind menu entries are in ``window_actions``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QDockWidget,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kneeseg_app.ui.controllers.comparison import ComparisonController
from kneeseg_app.ui.controllers.loading import LoadController
from kneeseg_app.ui.controllers.models_controller import ModelsController
from kneeseg_app.ui.controllers.segmentation import RunOptions, SegmentController
from kneeseg_app.ui.controllers.surfaces import SurfaceController
from kneeseg_app.ui.controllers.workers import task_pool
from kneeseg_app.ui.state.next_step import CaseProgress, next_step
from kneeseg_app.ui.state.session import CaseSession, LoadedCase
from kneeseg_app.ui.state.settings import AppSettings
from kneeseg_app.ui.state.viewer_state import ViewerState
from kneeseg_app.ui.widgets.dialogs import DialogService
from kneeseg_app.ui.widgets.display_panel import DisplayPanel
from kneeseg_app.ui.widgets.metrics_panel import MetricsPanel
from kneeseg_app.ui.widgets.model_panel import ModelPanel
from kneeseg_app.ui.widgets.run_panel import RunPanel
from kneeseg_app.ui.widgets.viewer_panel import ViewerPanel
from kneeseg_app.ui.windows.checks_wiring import ChecksWiring
from kneeseg_app.ui.windows.edit_wiring import EditWiring
from kneeseg_app.ui.windows.identity_wiring import IdentityWiring
from kneeseg_app.ui.windows.menus import build_menus, fill_recent
from kneeseg_app.ui.windows.planning_wiring import PlanningWiring
from kneeseg_app.ui.windows.session_flows import SessionFlows
from kneeseg_app.ui.windows.sides_wiring import SidesWiring
from kneeseg_app.ui.windows.window_actions import WindowActions
from kneeseg_app.ui.windows.window_fit import place_window


class MainWindow(QMainWindow):
    """KneeSeg's window. ``dialogs`` is replaceable (tests record messages with it)."""

    def __init__(self, settings: AppSettings | None = None, dialogs: DialogService | None = None) -> None:
        super().__init__()
        self.setWindowTitle("KneeSeg")
        self.setObjectName("main_window")
        self.settings = settings or AppSettings()
        self.dialogs = dialogs or DialogService(self)
        self.session = CaseSession(self)
        self.viewer_state = ViewerState(self)
        self.loader = LoadController(
            lambda scan: self.dialogs.choose_series(scan.series, scan.others, 0),
            self,
            ask_fill_gap=lambda question: self.dialogs.confirm("Slices are missing", question),
        )
        self.segmenter = SegmentController(self)
        self.comparison = ComparisonController(self)
        self.models = ModelsController(remember=self._remember_model, parent=self)
        self.surfaces = SurfaceController(self)
        self.flows = WindowActions(self)
        self.batch_window: Any = None
        self.export_task: Any = None
        self._segmenting_volume: Any = None
        self._build_central()
        self._build_dock()
        self._build_status_bar()
        self._build_menus()
        self._connect()
        self.editing = EditWiring(self)
        self.checks = ChecksWiring(self)
        self.sides = SidesWiring(self)
        self.identity = IdentityWiring(self)
        self.planning = PlanningWiring(self)
        self.sessions = SessionFlows(self)
        self.sessions.add_menu_entries(self.recent_menu)
        self._restore_settings()
        self.setAcceptDrops(True)
        QTimer.singleShot(0, self.refresh_models)

    # ----- construction ----------------------------------------------------------------
    def _build_central(self) -> None:
        self.banner = QLabel()
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #6b5400; color: #fff4c0; padding: 5px;")
        self.banner_close = QToolButton()
        self.banner_close.setText("✕")
        self.banner_close.clicked.connect(lambda: self.show_banner(""))
        self.banner_row = QWidget()
        row = QHBoxLayout(self.banner_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.banner, 1)
        row.addWidget(self.banner_close)
        self.banner_row.setVisible(False)
        self.viewer = ViewerPanel(self.viewer_state)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.banner_row)
        layout.addWidget(self.viewer, 1)
        self.setCentralWidget(central)

    def _build_dock(self) -> None:
        self.case_info = QLabel("No case open. File > Open DICOM folder, or drop a folder here.")
        self.case_info.setObjectName("case_info")
        self.case_info.setWordWrap(True)
        self.case_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.case_info.setStyleSheet("font-family: monospace; font-size: 11px;")
        self.model_panel = ModelPanel(self.models)
        self.run_panel = RunPanel(self.segmenter)
        self.display_panel = DisplayPanel(self.viewer_state)
        self.metrics_panel = MetricsPanel()
        case_and_model = QWidget()
        upper = QVBoxLayout(case_and_model)
        for title, widget in (("Case", self.case_info), ("Model", self.model_panel)):
            box = QGroupBox(title)
            QVBoxLayout(box).addWidget(widget)
            upper.addWidget(box)
        upper.addStretch(1)
        run_box = QGroupBox("Segmentation")
        QVBoxLayout(run_box).addWidget(self.run_panel)
        segment_tab = QWidget()  # case and model scroll; the Segment button and its progress stay in sight
        tab_layout = QVBoxLayout(segment_tab)
        tab_layout.setContentsMargins(0, 0, 0, 0)
        tab_layout.addWidget(_scrolled(case_and_model), 1)
        tab_layout.addWidget(run_box)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("tool_tabs")
        self.tabs.addTab(segment_tab, "Segment")
        self.tabs.addTab(_scrolled(self.display_panel), "Display")
        self.tabs.addTab(_scrolled(self.metrics_panel), "Metrics")
        self.tools_dock = dock = QDockWidget("Tools", self)
        dock.setObjectName("tools_dock")
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        dock.setWidget(self.tabs)
        dock.setMinimumWidth(300)  # the tabs scroll: a 1366 x 768 laptop keeps room for the views
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.readout = QLabel("")
        self.readout.setObjectName("readout")
        self.busy_label = QLabel("")
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 1000)
        self.busy_bar.setMaximumWidth(160)
        self.busy_cancel = QPushButton("Cancel")
        self.busy_cancel.clicked.connect(self.loader.cancel)
        for widget in (self.busy_label, self.busy_bar, self.busy_cancel):
            widget.setVisible(False)
        bar.addWidget(self.readout, 1)
        bar.addPermanentWidget(self.busy_label)
        bar.addPermanentWidget(self.busy_bar)
        bar.addPermanentWidget(self.busy_cancel)

    def _build_menus(self) -> None:
        build_menus(self)
        self._fill_recent()

    def _connect(self) -> None:
        lo, seg, cmp, s = self.loader, self.segmenter, self.comparison, self.session
        lo.started.connect(lambda label: self._busy(label, True))
        lo.progress.connect(lambda stage, f: (self.busy_label.setText(stage), self.busy_bar.setValue(int(1000 * f))))
        lo.idle.connect(lambda: self._busy("", False))
        lo.loaded.connect(self._on_loaded)
        lo.failed.connect(self.dialogs_exception)
        lo.cancelled.connect(lambda: self.statusBar().showMessage("Opening cancelled.", 5000))
        seg.finished.connect(self._on_segmented)
        seg.failed.connect(self.dialogs_exception)
        seg.runningChanged.connect(lambda _: self._update_ready())
        cmp.referenceLoaded.connect(self._on_reference_loaded)
        cmp.computed.connect(self._on_metrics)
        cmp.failed.connect(self.dialogs_exception)
        s.caseChanged.connect(self._on_case)
        s.resultChanged.connect(self._on_result)
        s.referenceChanged.connect(self._on_reference)
        for changed in (s.resultChanged, s.referenceChanged):
            changed.connect(lambda _: self._update_ready())  # the next-step hint follows
        s.metricsChanged.connect(self.metrics_panel.show_metrics)
        self.models.selectionChanged.connect(lambda _: self._update_ready())
        self.models.selectionChanged.connect(lambda _: self.run_panel.set_model(self.models.package))
        self.run_panel.runRequested.connect(self.segment)
        self.run_panel.optionsChanged.connect(self._remember_options)
        self.display_panel.presetChosen.connect(lambda name: setattr(self.settings, "window_preset", name))
        self.model_panel.addRequested.connect(self.flows.add_model)
        self.metrics_panel.loadReferenceRequested.connect(self.flows.load_reference)
        self.metrics_panel.exportRequested.connect(self.flows.export_metrics)
        self.viewer.readout.connect(self.readout.setText)
        self.viewer.view3d.buildRequested.connect(self._build_surfaces)
        self.surfaces.ready.connect(self.viewer.view3d.set_meshes)
        self.surfaces.failed.connect(lambda text: self.viewer.view3d.show_message(f"No 3D surfaces: {text}"))
        self.surfaces.started.connect(lambda: self.viewer.view3d.show_message("Building the bone surfaces…"))

    def _restore_settings(self) -> None:
        # TTA is not restored: it follows the selected model's default_tta, as in the CLI
        self.run_panel.set_options(RunOptions(tta=None, threads=self.settings.threads))
        preset = self.settings.window_preset
        if preset:
            try:
                self.viewer_state.apply_preset(preset)
            except KeyError:
                pass
        place_window(self, self.settings.geometry)
        self._update_ready()

    # ----- public entry points -------------------------------------------------------------
    def open_demo(self) -> bool:
        return self.flows.open_demo()

    def open_path(self, path: str | Path) -> bool:
        """Open a case (False: not opened, e.g. the user kept the unsaved result)."""
        return self.flows.open_path(path)

    def refresh_models(self) -> None:
        try:
            self.models.refresh(preferred=self.settings.model)
        except Exception as exc:  # noqa: BLE001 - the window works without models
            self.dialogs.exception("Cannot list the models", exc)

    def segment(self, options: RunOptions) -> bool:
        self._segmenting_volume = self.session.volume
        self.run_panel.show_starting()
        started = self.segmenter.run(self.models.package, self.session.volume, options)
        self._update_ready()
        return started

    def dialogs_exception(self, title: str, exc: BaseException) -> None:
        self.dialogs.exception(title, exc)

    def show_banner(self, text: str) -> None:
        self.banner.setText(text)
        self.banner_row.setVisible(bool(text))

    # ----- reactions ------------------------------------------------------------------------
    def _busy(self, label: str, on: bool) -> None:
        self.busy_label.setText(label)
        self.busy_bar.setValue(0)
        for widget in (self.busy_label, self.busy_bar, self.busy_cancel):
            widget.setVisible(on)

    def _on_loaded(self, case: LoadedCase) -> None:
        self.session.set_case(case)
        self.settings.last_folder = str(case.source.parent)
        self.settings.add_recent(str(case.source))
        self._fill_recent()
        if case.warnings:
            self.show_banner("⚠ " + "  ".join(case.warnings))
            self.dialogs.warning("Please check this volume", "\n\n".join(case.warnings))
        if case.reference_path is not None:
            self.comparison.load(case.reference_path, case.volume)

    def _on_case(self, case: LoadedCase | None) -> None:
        self.segmenter.cancel()
        self.surfaces.cancel()
        if case is None or not case.warnings:
            self.show_banner("")
        self.viewer_state.set_volume(case.volume if case else None)
        self.viewer.view3d.clear()
        self.setWindowTitle(f"KneeSeg – {case.title}" if case else "KneeSeg")
        self.case_info.setText(case.volume.describe() if case else "No case open.")
        self.run_panel.clear_outcome()
        self.metrics_panel.set_status("")
        self._update_ready()

    def _on_segmented(self, result: Any, model_name: str) -> None:
        if self.session.volume is not self._segmenting_volume:
            return  # the case changed while the model ran
        self.session.set_result(result, model_name)

    def _on_result(self, result: Any) -> None:
        # the names of the model that made the result, not of the one selected now
        names = dict(getattr(result, "label_names", None) or {}) if result is not None else {}
        self.viewer_state.set_labels(result.labels if result is not None else None, names or None)
        self.metrics_panel.set_label_names(self.viewer_state.label_names)
        if result is not None:
            self._build_surfaces()
        self._compare()

    def _build_surfaces(self) -> None:
        """Surfaces of the model result, or of the reference while there is no result."""
        s, view = self.session, self.viewer.view3d
        labels = s.result.labels if s.result is not None else s.reference
        if labels is None:
            return
        view.title.setText("3D: model result" if s.result is not None else "3D: reference")
        if view.unavailable_reason:
            view.show_message(view.unavailable_reason)
            return
        self.sides.build_surfaces(labels)  # one surface per bone and side

    def _on_reference_loaded(self, labels: Any, path: Path, ct: Any) -> None:
        if ct is self.session.volume:
            self.session.set_reference(labels, path)

    def _on_reference(self, reference: Any) -> None:
        self.viewer_state.set_reference(reference)
        if reference is not None:
            self.metrics_panel.set_status(
                f"Reference: {self.session.reference_path.name if self.session.reference_path else ''}"
            )
            if self.session.result is None:
                self._build_surfaces()
        self._compare()

    def _compare(self) -> None:
        s = self.session
        if s.can_compare():
            self.metrics_panel.set_status("Computing the metrics…")
            self.comparison.compute(s.result.labels, s.reference, self.viewer_state.label_names)
        elif s.reference is not None:
            self.metrics_panel.set_status("Reference loaded; segment the CT to compare.")

    def _on_metrics(self, metrics: Any, compared: tuple[Any, Any]) -> None:
        s = self.session
        if s.result is None or compared[0] is not s.result.labels or compared[1] is not s.reference:
            return  # computed for a result or reference that was replaced meanwhile
        s.set_metrics(metrics)
        ref = s.reference_path.name if s.reference_path else "reference"
        self.metrics_panel.set_status(f"{s.model_name} against {ref}")

    def _update_ready(self) -> None:
        reason = (
            "Open a CT first."
            if self.session.volume is None
            else "Choose a usable model."
            if self.models.package is None
            else ""
        )
        self.run_panel.set_ready(not reason, reason)
        self.run_panel.set_hint(next_step(self._progress()))

    def _progress(self) -> CaseProgress:
        s = self.session
        return CaseProgress(
            s.volume is not None,
            self.models.package is not None,
            s.result is not None,
            s.reference is not None,
            self.segmenter.running,
        )

    def _remember_model(self, name: str) -> None:
        self.settings.model = name

    def _remember_options(self, options: RunOptions) -> None:
        self.settings.threads = options.threads

    def _fill_recent(self) -> None:
        fill_recent(self)

    # ----- Qt events ------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_path(files[0])

    def closeEvent(self, event) -> None:  # noqa: N802
        if not self.sessions.may_leave_case("close KneeSeg"):
            event.ignore()
            return
        for controller in (self.loader, self.segmenter, self.surfaces):
            controller.cancel()
        if self.batch_window is not None:
            self.batch_window.controller.cancel()
        self.settings.geometry = bytes(self.saveGeometry())
        task_pool().waitForDone(3000)
        super().closeEvent(event)


def _scrolled(widget: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    area.setWidget(widget)
    return area
