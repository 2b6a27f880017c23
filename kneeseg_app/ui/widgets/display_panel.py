"""Display controls: window/level presets and histogram, overlay opacity, mode, legend."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from kneeseg_app.ui.state import window_level as wl
from kneeseg_app.ui.state.overlay import REFERENCE_COLORS, RESULT_COLORS, color_for
from kneeseg_app.ui.state.viewer_state import ViewerState

CUSTOM = "Custom"


def swatch(rgb: tuple[int, int, int], outline: bool = False) -> QLabel:
    label = QLabel()
    label.setFixedSize(14, 14)
    r, g, b = rgb
    style = (
        f"border: 2px solid rgb({r},{g},{b}); background: transparent;"
        if outline
        else f"background: rgb({r},{g},{b}); border: 1px solid #222;"
    )
    label.setStyleSheet(style)
    return label


class DisplayPanel(QWidget):
    """Shows and edits the ViewerState's window and overlay settings."""

    presetChosen = Signal(str)

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        layout = QVBoxLayout(self)
        layout.addWidget(self._window_box())
        layout.addWidget(self._overlay_box())
        layout.addStretch(1)
        state.windowChanged.connect(self._on_window)
        state.volumeChanged.connect(self._on_volume)
        state.overlayChanged.connect(self._on_overlay)
        self._on_window(state.window)

    # ----- window/level -------------------------------------------------------
    def _window_box(self) -> QGroupBox:
        box = QGroupBox("Window / level")
        self.preset = QComboBox()
        self.preset.setObjectName("window_preset")
        self.preset.addItems([*wl.PRESETS, CUSTOM])
        self.preset.activated.connect(self._on_preset)
        self.window_text = QLabel()
        self.window_text.setObjectName("window_text")
        self.histogram = pg.PlotWidget()
        self.histogram.setObjectName("histogram")
        self.histogram.setFixedHeight(90)
        self.histogram.setMenuEnabled(False)
        self.histogram.setMouseEnabled(x=False, y=False)
        self.histogram.hideAxis("left")
        self.histogram.getAxis("bottom").setStyle(tickFont=self.font())
        self.histogram_curve = self.histogram.plot(stepMode="center", fillLevel=0, brush=(120, 120, 160, 160), pen=None)
        self.region = pg.LinearRegionItem(brush=(240, 200, 60, 50))
        self.region.sigRegionChangeFinished.connect(self._on_region)
        self.histogram.addItem(self.region)
        row = QHBoxLayout()
        row.addWidget(self.preset, 1)
        row.addWidget(self.window_text)
        inner = QVBoxLayout(box)
        inner.addLayout(row)
        inner.addWidget(self.histogram)
        hint = QLabel("Right-drag in a view: left/right = width, up/down = level.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: gray; font-size: 11px;")
        inner.addWidget(hint)
        return box

    def _on_preset(self, index: int) -> None:
        name = self.preset.itemText(index)
        if name != CUSTOM:
            self.state.apply_preset(name)
            self.presetChosen.emit(name)

    def _on_window(self, window: wl.WindowLevel) -> None:
        self.window_text.setText(window.describe())
        self.preset.blockSignals(True)
        self.preset.setCurrentText(self.state.preset or CUSTOM)
        self.preset.blockSignals(False)
        self.region.blockSignals(True)
        self.region.setRegion((window.low, window.high))
        self.region.blockSignals(False)

    def _on_region(self) -> None:
        low, high = self.region.getRegion()
        self.state.set_window(wl.WindowLevel(width=max(wl.MIN_WIDTH, high - low), level=(low + high) / 2))

    def _on_volume(self) -> None:
        if self.state.volume is None:
            self.histogram_curve.setData([], [])
            return
        counts, edges = wl.histogram(self.state.volume.array)
        self.histogram_curve.setData(edges, np.log1p(counts.astype(np.float32)))
        self.histogram.setXRange(float(edges[0]), float(edges[-1]), padding=0)

    # ----- overlays ---------------------------------------------------------------
    def _overlay_box(self) -> QGroupBox:
        box = QGroupBox("Segmentation overlay")
        form = QFormLayout(box)
        self.show_result = QCheckBox("Model result")
        self.show_result.setObjectName("show_result")
        self.show_result.setChecked(True)
        self.show_result.toggled.connect(lambda on: self.state.set_show(result=on))
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setObjectName("opacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(int(self.state.result_style.opacity * 100))
        self.opacity.valueChanged.connect(lambda v: self.state.set_opacity(v / 100.0))
        self.opacity_text = QLabel(f"{self.opacity.value()} %")
        self.opacity_text.setMinimumWidth(40)
        self.opacity.valueChanged.connect(lambda v: self.opacity_text.setText(f"{v} %"))
        opacity_row = QHBoxLayout()
        opacity_row.addWidget(self.opacity, 1)
        opacity_row.addWidget(self.opacity_text)
        self.filled = QRadioButton("Filled")
        self.outlined = QRadioButton("Outline")
        self.outlined.setObjectName("outline_mode")
        self.filled.setChecked(True)
        self.outlined.toggled.connect(self.state.set_outline)
        mode = QHBoxLayout()
        mode.addWidget(self.filled)
        mode.addWidget(self.outlined)
        mode.addStretch(1)
        self.show_reference = QCheckBox("Reference (outline)")
        self.show_reference.setObjectName("show_reference")
        self.show_reference.setChecked(True)
        self.show_reference.toggled.connect(lambda on: self.state.set_show(reference=on))
        self.legend = QVBoxLayout()
        self.legend.setSpacing(2)
        form.addRow(self.show_result)
        form.addRow("Opacity", opacity_row)
        form.addRow("Mode", mode)
        form.addRow(self.show_reference)
        form.addRow(QLabel("Bones (result | reference):"))
        form.addRow(self.legend)
        self.label_boxes: dict[int, QCheckBox] = {}
        self._build_legend()
        return box

    def _build_legend(self) -> None:
        while self.legend.count():
            item = self.legend.takeAt(0)
            if item.layout() is not None:
                _clear_layout(item.layout())
            elif item.widget() is not None:
                item.widget().deleteLater()
        self.label_boxes = {}
        for label, name in sorted(self.state.label_names.items()):
            row = QHBoxLayout()
            check = QCheckBox(name)
            check.setObjectName(f"label_visible_{name}")
            check.setChecked(label not in self.state.result_style.hidden)
            check.toggled.connect(lambda on, value=label: self.state.set_label_visible(value, on))
            row.addWidget(swatch(color_for(label, RESULT_COLORS)))
            row.addWidget(swatch(color_for(label, REFERENCE_COLORS), outline=True))
            row.addWidget(check, 1)
            self.legend.addLayout(row)
            self.label_boxes[label] = check

    def _on_overlay(self) -> None:
        if set(self.label_boxes) != set(self.state.label_names):
            self._build_legend()


def _clear_layout(layout) -> None:
    while layout.count():
        item = layout.takeAt(0)
        if item.widget() is not None:
            item.widget().deleteLater()
