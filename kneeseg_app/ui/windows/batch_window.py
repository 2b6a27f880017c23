"""Batch evaluation window (engineers): cases x models -> tables, box plots, exports."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from kneeseg_app.ui.controllers import batch_logic, exporting
from kneeseg_app.ui.controllers.batch_controller import BatchController
from kneeseg_app.ui.controllers.models_controller import ModelsController
from kneeseg_app.ui.controllers.segmentation import RunOptions
from kneeseg_app.ui.state.overlay import RESULT_COLORS, color_for
from kneeseg_app.ui.widgets.boxplot import draw_boxplots
from kneeseg_app.ui.widgets.dialogs import DialogService
from kneeseg_app.ui.widgets.metrics_panel import format_value

LAYOUT_HELP = (
    "Cases: a folder with one sub-folder per case, each holding the CT (a DICOM series, "
    "or image.nii.gz / ct.nrrd ...) and its reference labels (labels.nii.gz, reference.nrrd, seg.*, "
    "mask.*, gt.*); or a CSV file with the columns image,labels[,case] (paths relative to the CSV)."
)
CASE_COLUMNS = ("Case", "Model", "Bone", "Dice", "HD95 (mm)", "ASSD (mm)", "Vol. diff (%)", "Time (s)", "Problem")
SUMMARY_COLUMNS = ("Model", "Bone", "Metric", "Mean ± SD", "Median [IQR]", "n")
PLOT_METRICS = ("dice", "jaccard", "precision", "recall", "hausdorff_mm", "hd95_mm", "assd_mm", "volume_diff_pct")
_MODEL_COLORS = [(255, 110, 50), (40, 160, 255), (120, 220, 90), (220, 90, 220), (240, 220, 60)]


class BatchWindow(QDialog):
    """Choose cases and models, run in the background, read and export the results."""

    def __init__(
        self, models: ModelsController, dialogs: DialogService, options: RunOptions, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("KneeSeg – batch evaluation")
        self.setObjectName("batch_window")
        self.models = models
        self.dialogs = dialogs
        self.options = options
        self.controller = BatchController(self)
        self.source = QLineEdit()
        self.source.setObjectName("batch_source")
        self.source.setPlaceholderText("Folder of cases or CSV file")
        choose_folder = QPushButton("Folder…")
        choose_folder.clicked.connect(self._choose_folder)
        choose_csv = QPushButton("CSV…")
        choose_csv.clicked.connect(self._choose_csv)
        help_text = QLabel(LAYOUT_HELP)
        help_text.setWordWrap(True)
        help_text.setStyleSheet("color: gray; font-size: 11px;")
        self.model_list = QListWidget()
        self.model_list.setObjectName("batch_models")
        self.model_list.setMaximumHeight(90)
        self.run = QPushButton("Run batch")
        self.run.setObjectName("batch_run")
        self.cancel = QPushButton("Cancel")
        self.cancel.setObjectName("batch_cancel")
        self.cancel.setEnabled(False)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.stage = QLabel("")
        self.stage.setObjectName("batch_stage")
        self.cases = self._table(CASE_COLUMNS, "batch_cases")
        self.summary = self._table(SUMMARY_COLUMNS, "batch_summary")
        self.metric_choice = QComboBox()
        self.metric_choice.setObjectName("batch_metric")
        self.plot = pg.PlotWidget()
        self.plot.setObjectName("batch_boxplot")
        self.plot.setMenuEnabled(False)
        self.timing = QLabel("")
        self.timing.setObjectName("batch_timing")
        export_csv = QPushButton("Export CSV…")
        export_csv.setObjectName("batch_export_csv")
        export_png = QPushButton("Export PNG…")
        export_png.setObjectName("batch_export_png")
        self._layout(choose_folder, choose_csv, help_text, export_csv, export_png)
        self._fill_models()
        self._fill_metrics()
        self.run.clicked.connect(self.start)
        self.cancel.clicked.connect(self._on_cancel)
        export_csv.clicked.connect(self.export_csv)
        export_png.clicked.connect(self.export_png)
        self.metric_choice.currentIndexChanged.connect(lambda _: self._draw_plot())
        c = self.controller
        c.progress.connect(lambda stage, f: (self.bar.setValue(int(1000 * f)), self.stage.setText(stage)))
        c.outcome.connect(self._add_outcome)
        c.finished.connect(self._on_finished)
        c.cancelled.connect(self._on_cancelled)
        c.failed.connect(lambda title, exc: (self.dialogs.exception(title, exc), self.stage.setText(title)))
        c.skipped.connect(lambda notes: self.dialogs.warning("Some entries were skipped", "\n".join(notes[:20])))
        c.runningChanged.connect(self._on_running)
        self.resize(980, 720)

    def _table(self, columns: tuple[str, ...], name: str) -> QTableWidget:
        table = QTableWidget(0, len(columns))
        table.setObjectName(name)
        table.setHorizontalHeaderLabels(columns)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.verticalHeader().setVisible(False)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setStretchLastSection(True)
        return table

    def _layout(self, choose_folder, choose_csv, help_text, export_csv, export_png) -> None:
        source_row = QHBoxLayout()
        source_row.addWidget(QLabel("Cases"))
        source_row.addWidget(self.source, 1)
        source_row.addWidget(choose_folder)
        source_row.addWidget(choose_csv)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run)
        run_row.addWidget(self.cancel)
        run_row.addWidget(self.bar, 1)
        plots = QWidget()
        plot_layout = QVBoxLayout(plots)
        metric_row = QHBoxLayout()
        metric_row.addWidget(QLabel("Metric"))
        metric_row.addWidget(self.metric_choice)
        metric_row.addStretch(1)
        plot_layout.addLayout(metric_row)
        plot_layout.addWidget(self.plot, 1)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.cases, "Per case")
        self.tabs.addTab(self.summary, "Summary")
        self.tabs.addTab(plots, "Box plots")
        export_row = QHBoxLayout()
        export_row.addWidget(self.timing, 1)
        export_row.addWidget(export_csv)
        export_row.addWidget(export_png)
        layout = QVBoxLayout(self)
        layout.addLayout(source_row)
        layout.addWidget(help_text)
        layout.addWidget(QLabel("Models (tick one or more)"))
        layout.addWidget(self.model_list)
        layout.addLayout(run_row)
        layout.addWidget(self.stage)
        layout.addWidget(self.tabs, 1)
        layout.addLayout(export_row)

    def _fill_models(self) -> None:
        self.model_list.clear()
        for entry in self.models.entries:
            if not entry.usable:
                continue
            item = QListWidgetItem(entry.name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
            selected = self.models.selected is not None and self.models.selected.name == entry.name
            item.setCheckState(Qt.CheckState.Checked if selected else Qt.CheckState.Unchecked)
            item.setData(Qt.ItemDataRole.UserRole, entry.name)
            self.model_list.addItem(item)

    def _fill_metrics(self) -> None:
        from kneeseg_app.core.metrics import METRIC_INFO

        for key in PLOT_METRICS:
            info = METRIC_INFO[key]
            self.metric_choice.addItem(f"{info.name} ({info.unit})" if info.unit else info.name, key)

    def checked_packages(self) -> list[Any]:
        names = [
            self.model_list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.model_list.count())
            if self.model_list.item(i).checkState() == Qt.CheckState.Checked
        ]
        return [e.package for e in self.models.entries if e.usable and e.name in names]

    # ----- actions -------------------------------------------------------------------
    def _choose_folder(self) -> None:
        folder = self.dialogs.choose_folder("Folder of cases")
        if folder:
            self.source.setText(folder)

    def _choose_csv(self) -> None:
        path = self.dialogs.choose_open_file("CSV listing the cases", filters="CSV (*.csv)")
        if path:
            self.source.setText(path)

    def start(self) -> bool:
        self.cases.setRowCount(0)
        self.summary.setRowCount(0)
        self.plot.clear()
        self.timing.setText("")
        return self.controller.start(self.source.text().strip(), self.checked_packages(), self.options)

    def _on_cancel(self) -> None:
        self.cancel.setEnabled(False)
        self.stage.setText("Cancelling…")
        self.controller.cancel()

    def _on_running(self, running: bool) -> None:
        self.run.setEnabled(not running)
        self.cancel.setEnabled(running)

    def _add_outcome(self, o: batch_logic.CaseOutcome) -> None:
        rows = [(bone, m) for bone, m in o.metrics.items()] or [("", None)]
        for bone, m in rows:
            cells = [o.case_id, o.model, bone]
            if m is not None:
                cells += [
                    format_value(m.dice, ""),
                    format_value(m.hd95_mm, "mm"),
                    format_value(m.assd_mm, "mm"),
                    format_value(m.volume_diff_pct, "%"),
                    f"{o.seconds:.1f}",
                ]
            else:
                cells += ["", "", "", "", ""]
            cells.append(o.error)
            row = self.cases.rowCount()
            self.cases.insertRow(row)
            for c, text in enumerate(cells):
                self.cases.setItem(row, c, QTableWidgetItem(text))

    def _on_finished(self, result: batch_logic.BatchResult) -> None:
        self.stage.setText(f"Done: {len(result.outcomes)} case x model runs.")
        self._show_result(result)

    def _on_cancelled(self) -> None:
        self.stage.setText("Cancelled; the cases finished before are shown.")
        if self.controller.result is not None:
            self._show_result(self.controller.result)

    def _show_result(self, result: batch_logic.BatchResult) -> None:
        from kneeseg_app.core.metrics import METRIC_INFO

        self.summary.setRowCount(0)
        timing = []
        for model in result.models():
            for r in result.summary(model):
                row = self.summary.rowCount()
                self.summary.insertRow(row)
                name = METRIC_INFO[r.metric].name if r.metric in METRIC_INFO else r.metric
                metric = f"{name} ({r.unit})" if r.unit else name
                for c, text in enumerate((model, r.bone, metric, r.mean_sd_text(), r.median_iqr_text(), str(r.n))):
                    self.summary.setItem(row, c, QTableWidgetItem(text))
            mean, std = result.timing(model)
            if math.isfinite(mean):
                timing.append(f"{model}: {mean:.2f} ± {0.0 if math.isnan(std) else std:.2f} s per volume")
        self.timing.setText("   ".join(timing))
        self._draw_plot()

    def _draw_plot(self) -> None:
        result = self.controller.result
        key = self.metric_choice.currentData()
        if result is None or key is None:
            return
        groups = []
        bones = list(dict.fromkeys(bone for o in result.outcomes for bone in o.metrics))
        for m, model in enumerate(result.models()):
            color = _MODEL_COLORS[m % len(_MODEL_COLORS)] if len(result.models()) > 1 else None
            for b, bone in enumerate(bones):
                groups.append(
                    (
                        f"{bone}\n{model}" if len(result.models()) > 1 else bone,
                        result.values(model, bone, key),
                        color or color_for(b + 1, RESULT_COLORS),
                    )
                )
        draw_boxplots(self.plot, groups, self.metric_choice.currentText())

    def export_csv(self) -> list[Path]:
        result = self.controller.result
        if result is None:
            self.dialogs.info("Nothing to export", "Run a batch first.")
            return []
        path = self.dialogs.choose_save_file("Export the batch tables", "batch.csv", "CSV (*.csv)")
        if not path:
            return []
        base = exporting.with_suffix(path, (".csv",), ".csv")
        stem = base.name[: -len(".csv")]
        targets = [base.with_name(f"{stem}_cases.csv"), base.with_name(f"{stem}_summary.csv")]
        existing = [t.name for t in targets if t.exists()]
        if existing and not self.dialogs.confirm("Overwrite?", f"{', '.join(existing)} already exist(s). Replace?"):
            return []
        try:
            return [
                batch_logic.write_outcomes_csv(result, targets[0], overwrite=True),
                batch_logic.write_summary_table_csv(result, targets[1], overwrite=True),
            ]
        except Exception as exc:  # noqa: BLE001
            self.dialogs.exception("Cannot export", exc)
            return []

    def export_png(self) -> Path | None:
        path = self.dialogs.choose_save_file("Export the box plot", "batch_boxplot.png", "PNG (*.png)")
        if not path:
            return None
        target = exporting.with_suffix(path, (".png",), ".png")
        if target.exists() and not self.dialogs.confirm("Overwrite?", f"{target.name} already exists. Replace it?"):
            return None
        try:
            return exporting.save_image(self.plot.grab().save, target, (), overwrite=True)
        except Exception as exc:  # noqa: BLE001
            self.dialogs.exception("Cannot export", exc)
            return None
