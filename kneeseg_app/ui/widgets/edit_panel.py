"""The Edit tab: tool, bone, brush size, HU limit, draw-over, actions, undo. Shows, forwards.

Every control only calls the EditController; the panel redraws itself from the
controller's signals, so shortcuts and buttons can never disagree with what it shows.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kneeseg_app.core.editing import DrawOver
from kneeseg_app.core.labels import label_names
from kneeseg_app.ui.controllers.editing import EditController, EditSettings, EditTool

TOOL_BUTTONS = (
    (EditTool.NONE, "Look", "Esc", "No tool: left click moves the crosshair"),
    (EditTool.BRUSH, "Brush", "B", "Paint the chosen bone; left drag in a slice view"),
    (EditTool.ERASER, "Eraser", "E", "Erase; left drag in a slice view"),
    (EditTool.FILL, "Fill", "F", "Fill the clicked region of the slice (same label, within the HU range)"),
    (EditTool.REMOVE_ISLAND, "Remove piece", "", "Click a piece of bone to remove it (3D connected)"),
    (EditTool.KEEP_ISLAND, "Keep piece", "", "Click a piece of bone to keep it; its other pieces go"),
)


def _spin(low: float, high: float, value: float, step: float, suffix: str, decimals: int = 1) -> QDoubleSpinBox:
    spin = QDoubleSpinBox()
    spin.setRange(low, high)
    spin.setDecimals(decimals)
    spin.setSingleStep(step)
    spin.setValue(value)
    spin.setSuffix(suffix)
    spin.setKeyboardTracking(False)
    return spin


class EditPanel(QWidget):
    """Controls of the editing tools; ``controller`` does the work."""

    def __init__(self, controller: EditController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("edit_panel")
        self.controller = controller
        self._names: dict[int, str] = label_names()
        layout = QVBoxLayout(self)
        self.hint = QLabel("Segment a CT first: the model's result is what you correct here.")
        self.hint.setWordWrap(True)
        layout.addWidget(self.hint)
        layout.addWidget(self._tools_box())
        layout.addWidget(self._brush_box())
        layout.addWidget(self._actions_box())
        layout.addWidget(self._history_box())
        keys = QLabel(
            "With a tool: left drag or click in a slice view edits; wheel scrolls, right drag sets the window. "
            "Keys: B brush, E eraser, F fill, Esc no tool, Ctrl+Z undo, Ctrl+Y or Ctrl+Shift+Z redo."
        )
        keys.setWordWrap(True)
        keys.setStyleSheet("color: gray;")
        layout.addWidget(keys)
        layout.addStretch(1)
        controller.settingsChanged.connect(self._show_settings)
        controller.edited.connect(self.refresh_status)
        controller.availabilityChanged.connect(self._on_available)
        controller.message.connect(self.status.setText)
        self._fill_label_combos()
        self._show_settings(controller.settings)
        self._on_available(controller.editor is not None)

    # ----- construction --------------------------------------------------------------
    def _tools_box(self) -> QGroupBox:
        box = QGroupBox("Tool")
        grid = QGridLayout(box)
        self.tool_group = QButtonGroup(self)
        self.tool_group.setExclusive(True)
        self.tool_buttons: dict[EditTool, QToolButton] = {}
        for i, (tool, text, key, tip) in enumerate(TOOL_BUTTONS):
            button = QToolButton()
            button.setText(f"{text} ({key})" if key else text)
            button.setToolTip(tip)
            button.setCheckable(True)
            button.setObjectName(f"tool_{tool.value.replace(' ', '_')}")
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
            button.clicked.connect(lambda _=False, t=tool: self.controller.set_tool(t))
            self.tool_group.addButton(button)
            self.tool_buttons[tool] = button
            grid.addWidget(button, i // 3, i % 3)
        return box

    def _brush_box(self) -> QGroupBox:
        box = QGroupBox("Bone and brush")
        form = QFormLayout(box)
        self.label_combo = QComboBox()
        self.label_combo.setObjectName("edit_label")
        self.label_combo.activated.connect(
            lambda _: self.controller.update(active_label=self.label_combo.currentData())
        )
        form.addRow("Bone", self.label_combo)
        self.radius = _spin(0.2, 50.0, self.controller.settings.radius_mm, 0.5, " mm")
        self.radius.setObjectName("edit_radius")
        self.radius.valueChanged.connect(lambda v: self.controller.update(radius_mm=float(v)))
        self.three_d = QCheckBox("3D ball (all slices around)")
        self.three_d.toggled.connect(lambda on: self.controller.update(three_d=bool(on)))
        size_row = QHBoxLayout()
        size_row.addWidget(self.radius)
        size_row.addWidget(self.three_d)
        form.addRow("Radius", size_row)
        self.hu_limited = QCheckBox("Only over")
        self.hu_limited.setToolTip("Paint and fill only voxels within this HU range (e.g. bone: 200..3000 HU)")
        self.hu_low = _spin(-1024, 4000, self.controller.settings.hu_range[0], 50, " HU", 0)
        self.hu_high = _spin(-1024, 4000, self.controller.settings.hu_range[1], 50, " HU", 0)
        self.hu_limited.toggled.connect(lambda on: self.controller.update(hu_limited=bool(on)))
        for spin in (self.hu_low, self.hu_high):
            spin.valueChanged.connect(self._on_hu_range)
        hu_row = QHBoxLayout()
        for widget in (self.hu_limited, self.hu_low, QLabel("to"), self.hu_high):
            hu_row.addWidget(widget)
        form.addRow("HU", hu_row)
        self.draw_over = QComboBox()
        self.draw_over.setObjectName("edit_draw_over")
        self.draw_over.setToolTip("Which existing labels a stroke may overwrite")
        self.draw_over.activated.connect(self._on_draw_over)
        form.addRow("Draw over", self.draw_over)
        return box

    def _actions_box(self) -> QGroupBox:
        box = QGroupBox("Whole bone")
        grid = QGridLayout(box)
        self.smooth_mm = _spin(0.3, 10.0, self.controller.settings.smooth_mm, 0.25, " mm", 2)
        self.smooth_mm.valueChanged.connect(lambda v: self.controller.update(smooth_mm=float(v)))
        c = self.controller
        self.action_buttons = {
            "smooth": QPushButton("Smooth bone (3D)"),
            "smooth_slice": QPushButton("Smooth this slice"),
            "holes": QPushButton("Fill holes (3D)"),
            "holes_slices": QPushButton("Fill holes per slice"),
            "interpolate": QPushButton("Interpolate between last two painted slices"),
        }
        slots = {
            "smooth": lambda: c.smooth(False),
            "smooth_slice": lambda: c.smooth(True),
            "holes": lambda: c.fill_holes(False),
            "holes_slices": lambda: c.fill_holes(True),
            "interpolate": c.interpolate,
        }
        for name, button in self.action_buttons.items():
            button.setObjectName(f"edit_{name}")
            button.clicked.connect(lambda _=False, s=slots[name]: s())
        grid.addWidget(QLabel("Smoothing width"), 0, 0)
        grid.addWidget(self.smooth_mm, 0, 1)
        grid.addWidget(self.action_buttons["smooth"], 1, 0)
        grid.addWidget(self.action_buttons["smooth_slice"], 1, 1)
        grid.addWidget(self.action_buttons["holes"], 2, 0)
        grid.addWidget(self.action_buttons["holes_slices"], 2, 1)
        grid.addWidget(self.action_buttons["interpolate"], 3, 0, 1, 2)
        return box

    def _history_box(self) -> QGroupBox:
        box = QGroupBox("History")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        self.undo_button = QPushButton("Undo (Ctrl+Z)")
        self.redo_button = QPushButton("Redo (Ctrl+Y)")
        self.revert_button = QPushButton("Revert to model result")
        self.revert_button.setObjectName("edit_revert")
        self.undo_button.clicked.connect(self.controller.undo)
        self.redo_button.clicked.connect(self.controller.redo)
        self.revert_button.clicked.connect(self.controller.revert)
        for button in (self.undo_button, self.redo_button):
            row.addWidget(button)
        layout.addLayout(row)
        layout.addWidget(self.revert_button)
        self.status = QLabel("")
        self.status.setObjectName("edit_status")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        return box

    # ----- controller -> screen -----------------------------------------------------------
    def set_label_names(self, names: dict[int, str]) -> None:
        self._names = {int(k): v for k, v in names.items() if int(k) != 0} or self._names
        self._fill_label_combos()
        if self.controller.settings.active_label not in self._names:
            self.controller.update(active_label=min(self._names))
        self.refresh_status()

    def _fill_label_combos(self) -> None:
        self.label_combo.clear()
        for value, name in self._names.items():
            self.label_combo.addItem(name, value)
        self.draw_over.clear()
        self.draw_over.addItem("All labels", (DrawOver.ALL, 0))
        self.draw_over.addItem("Background only", (DrawOver.BACKGROUND, 0))
        for value, name in self._names.items():
            self.draw_over.addItem(f"{name} only", (DrawOver.LABEL, value))
        self._show_settings(self.controller.settings)

    def _show_settings(self, s: EditSettings) -> None:
        self.tool_buttons[s.tool].setChecked(True)
        for widget, value in ((self.radius, s.radius_mm), (self.smooth_mm, s.smooth_mm)):
            if abs(widget.value() - value) > 1e-9:
                widget.blockSignals(True)
                widget.setValue(value)
                widget.blockSignals(False)
        self.three_d.setChecked(s.three_d)
        self.hu_limited.setChecked(s.hu_limited)
        index = self.label_combo.findData(s.active_label)
        if index >= 0:
            self.label_combo.setCurrentIndex(index)
        for i in range(self.draw_over.count()):
            if self.draw_over.itemData(i) == (s.draw_over, s.over_label if s.draw_over is DrawOver.LABEL else 0):
                self.draw_over.setCurrentIndex(i)

    def refresh_status(self) -> None:
        editor = self.controller.editor
        self.undo_button.setEnabled(bool(editor and editor.can_undo))
        self.redo_button.setEnabled(bool(editor and editor.can_redo))
        self.revert_button.setEnabled(bool(editor and editor.changed_since_model))
        if editor is None:
            self.status.setText("")
            return
        volumes = ", ".join(f"{name} {ml:.1f} mL" for name, ml in editor.volumes_ml(self._names).items())
        changed = editor.voxels_changed_since_model
        edited = f"{changed:,} voxels differ from the model's result" if changed else "the model's result, unedited"
        steps = editor.history.undo_count
        self.status.setText(f"{volumes}\n{edited}; {steps} step{'' if steps == 1 else 's'} to undo")

    def _on_available(self, available: bool) -> None:
        self.hint.setVisible(not available)
        for widget in (*self.tool_buttons.values(), *self.action_buttons.values()):
            widget.setEnabled(available)
        self.refresh_status()

    # ----- screen -> controller -----------------------------------------------------------
    def _on_hu_range(self) -> None:
        low, high = sorted((float(self.hu_low.value()), float(self.hu_high.value())))
        self.controller.update(hu_range=(low, high))

    def _on_draw_over(self, index: int) -> None:
        mode, label = self.draw_over.itemData(index)
        self.controller.update(draw_over=mode, over_label=label)
