"""Metrics of the model result against a reference: table, bars, conventions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kneeseg_app.ui.state.overlay import RESULT_COLORS, color_for

OVERLAP = ("dice", "jaccard", "precision", "recall")
DISTANCES = ("hausdorff_mm", "hd95_mm", "assd_mm")


def format_value(value: float, unit: str) -> str:
    """A table cell: 4 decimals for ratios, 2 for mm, 1 for mL/%; 'inf' stays readable."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    digits = {"": 4, "mm": 2, "mL": 1, "%": 1}.get(unit, 3)
    return f"{value:.{digits}f}"


def metric_rows() -> list[tuple[str, str, str]]:
    """(key, display name, unit) in the study's order."""
    from kneeseg_app.core.metrics import METRIC_INFO

    return [(key, info.name, info.unit) for key, info in METRIC_INFO.items()]


class MetricsPanel(QWidget):
    """Table (metrics x bones) and bar charts; buttons forward to the window."""

    loadReferenceRequested = Signal()
    exportRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel("Load a reference segmentation to compare the model's result with it.")
        self.status.setObjectName("metrics_status")
        self.status.setWordWrap(True)
        load = QPushButton("Load reference…")
        load.setObjectName("load_reference")
        load.clicked.connect(self.loadReferenceRequested)
        self.export = QPushButton("Export CSV…")
        self.export.setObjectName("export_metrics")
        self.export.setEnabled(False)
        self.export.clicked.connect(self.exportRequested)
        buttons = QHBoxLayout()
        buttons.addWidget(load)
        buttons.addWidget(self.export)
        buttons.addStretch(1)
        self.table = QTableWidget(0, 0)
        self.table.setObjectName("metrics_table")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.overlap_plot = self._plot("Overlap (1 = perfect)", (0, 1.25))
        self.distance_plot = self._plot("Surface distance (mm)", None)
        self.footnote = QToolButton()
        self.footnote.setObjectName("metrics_conventions")
        self.footnote.setText("How the metrics are computed")
        self.footnote.setCheckable(True)
        self.footnote.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.footnote.setArrowType(Qt.ArrowType.RightArrow)
        self.conventions_text = QLabel("")
        self.conventions_text.setObjectName("metrics_conventions_text")
        self.conventions_text.setWordWrap(True)
        self.conventions_text.setStyleSheet("font-size: 11px;")
        self.conventions_text.setVisible(False)
        self.footnote.toggled.connect(self._toggle_conventions)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.table)
        layout.addWidget(self.overlap_plot, 1)
        layout.addWidget(self.distance_plot, 1)
        layout.addWidget(self.footnote)
        layout.addWidget(self.conventions_text)
        self._set_conventions()
        self.metrics: dict[str, Any] | None = None

    def _plot(self, title: str, y_range: tuple[float, float] | None) -> pg.PlotWidget:
        plot = pg.PlotWidget()
        plot.setMenuEnabled(False)
        plot.setMouseEnabled(x=False, y=False)
        plot.setTitle(title, size="9pt")
        plot.setMinimumHeight(120)
        if y_range:
            plot.setYRange(*y_range, padding=0)
        return plot

    def _set_conventions(self) -> None:
        try:
            from kneeseg_app.core.metrics import CONVENTIONS
        except Exception:  # noqa: BLE001 - the panel works without the text
            return
        self.footnote.setToolTip(f"<p style='white-space:normal'>{CONVENTIONS}</p>")
        self.conventions_text.setText(CONVENTIONS)
        self.conventions = CONVENTIONS

    def _toggle_conventions(self, shown: bool) -> None:
        self.conventions_text.setVisible(shown)
        self.footnote.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def show_metrics(self, metrics: dict[str, Any] | None) -> None:
        """Fill table and bars (None clears them)."""
        self.metrics = metrics
        self.export.setEnabled(bool(metrics))
        self.overlap_plot.clear()
        self.distance_plot.clear()
        if not metrics:
            self.table.clear()
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            return
        bones = list(metrics)
        rows = metric_rows()
        self.table.setColumnCount(len(bones))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(bones)
        self.table.setVerticalHeaderLabels([f"{name} ({unit})" if unit else name for _, name, unit in rows])
        for r, (key, _, unit) in enumerate(rows):
            for c, bone in enumerate(bones):
                value = float(getattr(metrics[bone], key))
                item = QTableWidgetItem(format_value(value, unit))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setData(Qt.ItemDataRole.UserRole, value)
                self.table.setItem(r, c, item)
        self._fit_table_height()
        self._bars(self.overlap_plot, metrics, OVERLAP, ["Dice", "Jaccard", "Prec.", "Recall"])
        self._bars(self.distance_plot, metrics, DISTANCES, ["Hausdorff", "HD95", "ASSD"])

    def _fit_table_height(self) -> None:
        rows = sum(self.table.rowHeight(r) for r in range(self.table.rowCount()))
        self.table.setFixedHeight(rows + self.table.horizontalHeader().height() + 2 * self.table.frameWidth() + 2)

    def value(self, bone: str, key: str) -> float:
        """The number shown for one bone and metric (tests and exports read it here)."""
        rows = [k for k, _, _ in metric_rows()]
        bones = [self.table.horizontalHeaderItem(c).text() for c in range(self.table.columnCount())]
        return float(self.table.item(rows.index(key), bones.index(bone)).data(Qt.ItemDataRole.UserRole))

    def _bars(self, plot: pg.PlotWidget, metrics: dict[str, Any], keys: tuple[str, ...], names: list[str]) -> None:
        bones = list(metrics)
        width = 0.8 / max(1, len(bones))
        legend = plot.plotItem.legend or plot.addLegend(offset=(-5, 2), labelTextSize="8pt", colCount=len(bones))
        legend.clear()
        for b, bone in enumerate(bones):
            values = np.array([float(getattr(metrics[bone], k)) for k in keys])
            values = np.where(np.isfinite(values), values, 0.0)
            x = np.arange(len(keys)) + (b - (len(bones) - 1) / 2) * width
            label = getattr(self, "_label_of", {}).get(bone, b + 1)
            item = pg.BarGraphItem(
                x=x, height=values, width=width * 0.95, brush=color_for(label, RESULT_COLORS), name=bone
            )
            plot.addItem(item)  # named items join the legend by themselves
        plot.getAxis("bottom").setTicks([list(enumerate(names))])

    def set_label_names(self, names: dict[int, str]) -> None:
        self._label_of = {name: label for label, name in names.items()}
