"""One 2D slice view (axial, coronal or sagittal): shows ViewerState, forwards the mouse.

Mouse, as in radiology viewers: left click/drag places the cursor (all views follow),
right drag changes window/level, middle drag (or Shift+left) pans, wheel scrolls
slices, Ctrl+wheel zooms. Keys: PageUp/PageDown/Up/Down scroll, +/- zoom, Home resets.
While an edit tool is active (``pointer_tool.active``), left click/drag goes to the tool
instead, as a continuous display position; everything else stays as it is.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QGraphicsEllipseItem, QHBoxLayout, QLabel, QSlider, QVBoxLayout, QWidget

from kneeseg_app.ui.state import window_level as wl
from kneeseg_app.ui.state.display_geometry import AXIAL, CORONAL, SAGITTAL, ViewSpec
from kneeseg_app.ui.state.viewer_state import ViewerState

VIEW_COLORS = {AXIAL.name: "#e05050", CORONAL.name: "#50c050", SAGITTAL.name: "#e0c040"}
"""3D Slicer's colours: each view's crosshair line in the other views has the view's colour."""
_LINE_VIEW = {0: AXIAL.name, 1: CORONAL.name, 2: SAGITTAL.name}  # display axis -> view sliced on it


class _SliceViewBox(pg.ViewBox):
    """A ViewBox whose mouse gestures mean what they mean in a PACS viewer."""

    def __init__(self, owner: SliceView) -> None:
        super().__init__(enableMenu=False, lockAspect=True, invertY=owner.spec.invert_y)
        self._owner = owner
        self._drag_start: wl.WindowLevel | None = None

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 (Qt naming)
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            if self._owner.editing():
                self._owner.edit_gesture("press", self.mapSceneToView(ev.scenePos()))
                self._owner.edit_gesture("release", None)
            else:
                self._owner.place_cursor(self.mapSceneToView(ev.scenePos()))
        else:
            ev.ignore()

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802
        button = ev.button()
        shift = bool(ev.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        if button == Qt.MouseButton.LeftButton and not shift and self._owner.editing():
            ev.accept()
            if ev.isStart():
                self._owner.edit_gesture("press", self.mapSceneToView(ev.buttonDownScenePos(button)))
            self._owner.edit_gesture("move", self.mapSceneToView(ev.scenePos()))
            if ev.isFinish():
                self._owner.edit_gesture("release", None)
        elif button == Qt.MouseButton.LeftButton and not shift:
            ev.accept()
            self._owner.place_cursor(self.mapSceneToView(ev.scenePos()))
        elif button == Qt.MouseButton.RightButton:
            ev.accept()
            state = self._owner.state
            if ev.isStart() or self._drag_start is None:
                self._drag_start = state.window
            moved = ev.screenPos() - ev.buttonDownScreenPos(button)
            sensitivity = max(1.0, self._drag_start.width / 250.0)
            state.set_window(wl.drag_window(self._drag_start, moved.x(), moved.y(), sensitivity))
            if ev.isFinish():
                self._drag_start = None
        else:
            super().mouseDragEvent(ev, axis)  # middle drag / shift+left: pan

    def wheelEvent(self, ev, axis=None) -> None:  # noqa: N802
        if ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            super().wheelEvent(ev, axis)
            return
        ev.accept()
        delta = ev.delta() if hasattr(ev, "delta") else ev.angleDelta().y()
        if delta:
            self._owner.state.move_slice(self._owner.spec, 1 if delta > 0 else -1)


class _Canvas(pg.GraphicsView):
    """The drawing area; keeps the orientation letters at its edges."""

    keyPressed = Signal(object)

    def __init__(self, parent: QWidget) -> None:
        self.letters: dict[str, QLabel] = {}
        super().__init__(parent)
        for edge in ("left", "right", "top", "bottom"):
            label = QLabel(self)
            label.setObjectName(f"orientation_{edge}")
            label.setStyleSheet("color: #f0d060; font-weight: bold; font-size: 13px; background: transparent;")
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
            self.letters[edge] = label
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def resizeEvent(self, ev) -> None:  # noqa: N802
        super().resizeEvent(ev)
        self.place_letters()

    def place_letters(self) -> None:
        w, h = self.width(), self.height()
        for edge, label in self.letters.items():
            label.adjustSize()
            lw, lh = label.width(), label.height()
            x = {"left": 4, "right": w - lw - 4}.get(edge, (w - lw) // 2)
            y = {"top": 2, "bottom": h - lh - 2}.get(edge, (h - lh) // 2)
            label.move(int(x), int(y))

    def keyPressEvent(self, ev: QKeyEvent) -> None:  # noqa: N802
        self.keyPressed.emit(ev)
        if not ev.isAccepted():
            super().keyPressEvent(ev)

    def enterEvent(self, ev) -> None:  # noqa: N802  (keys go to the view under the mouse)
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        super().enterEvent(ev)


class SliceView(QWidget):
    """Header (name, slider, slice number) above a pyqtgraph canvas."""

    hovered = Signal(str)  # the readout under the mouse ("" outside the image)

    def __init__(self, state: ViewerState, spec: ViewSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.spec = spec
        self.pointer_tool: Any = None
        """An edit tool (EditController): ``active``, ``pointer_press/move/release``; None: no editing."""
        self.setObjectName(f"view_{spec.name.lower()}")
        self.title = QLabel(spec.name)
        self.title.setStyleSheet(f"color: {VIEW_COLORS[spec.name]}; font-weight: bold;")
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setObjectName(f"slider_{spec.name.lower()}")
        self.slider.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.position = QLabel("")
        self.position.setMinimumWidth(70)
        self.position.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        header = QHBoxLayout()
        header.setContentsMargins(4, 0, 4, 0)
        header.addWidget(self.title)
        header.addWidget(self.slider, 1)
        header.addWidget(self.position)

        self.canvas = _Canvas(self)
        self.canvas.setBackground("k")
        self.viewbox = _SliceViewBox(self)
        self.canvas.setCentralItem(self.viewbox)
        self.ct_item = pg.ImageItem(axisOrder="row-major")
        self.result_item = pg.ImageItem(axisOrder="row-major")
        self.reference_item = pg.ImageItem(axisOrder="row-major")
        for z, item in enumerate((self.ct_item, self.result_item, self.reference_item)):
            item.setZValue(z)
            self.viewbox.addItem(item)
        self._shown_slice = -1
        self.brush_outline = QGraphicsEllipseItem()
        self.brush_outline.setPen(pg.mkPen("#ffffff", width=1, style=Qt.PenStyle.DashLine, cosmetic=True))
        self.brush_outline.setZValue(11)
        self.brush_outline.setVisible(False)
        self.viewbox.addItem(self.brush_outline)
        self.lines = {}
        for axis in (a for a in range(3) if a != spec.slice_axis):
            vertical = axis == spec.col_axis
            line = pg.InfiniteLine(
                angle=90 if vertical else 0, movable=False, pen=pg.mkPen(VIEW_COLORS[_LINE_VIEW[axis]], width=1)
            )
            line.setZValue(10)
            self.viewbox.addItem(line)
            self.lines[axis] = line
        for edge, letter in spec.edge_letters().items():
            self.canvas.letters[edge].setText(letter)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addLayout(header)
        layout.addWidget(self.canvas, 1)

        self.slider.valueChanged.connect(lambda v: self.state.set_slice(self.spec, v))
        self.canvas.keyPressed.connect(self._on_key)
        self.canvas.scene().sigMouseMoved.connect(self._on_mouse_moved)
        state.volumeChanged.connect(self._on_volume)
        state.cursorChanged.connect(self._on_cursor)
        state.windowChanged.connect(self._on_window)
        state.overlayChanged.connect(self._draw_overlays)
        state.labelsEdited.connect(self._on_labels_edited)

    # ----- state -> screen -----------------------------------------------
    def _on_volume(self) -> None:
        self._shown_slice = -1
        geometry = self.state.geometry
        if geometry is None:
            for item in (self.ct_item, self.result_item, self.reference_item):
                item.clear()
            return
        self.slider.blockSignals(True)
        self.slider.setRange(0, self.state.slice_count(self.spec) - 1)
        self.slider.blockSignals(False)
        self.reset_zoom()

    def reset_zoom(self) -> None:
        """Fit the whole plane in the view (keeps the physical aspect ratio)."""
        if self.state.geometry is None:
            return
        width, height = self.state.geometry.plane_size_mm(self.spec)
        self.viewbox.setRange(QRectF(0, 0, width, height), padding=0.02)

    def _on_cursor(self, cursor) -> None:
        geometry = self.state.geometry
        if geometry is None:
            return
        index = cursor[self.spec.slice_axis]
        self.slider.blockSignals(True)
        self.slider.setValue(index)
        self.slider.blockSignals(False)
        self.position.setText(f"{index + 1} / {self.state.slice_count(self.spec)}")
        x, y = geometry.display_to_scene(self.spec, cursor)
        for axis, line in self.lines.items():
            line.setValue(x if axis == self.spec.col_axis else y)
        if index != self._shown_slice:  # moving the crosshair within this plane redraws nothing
            self._shown_slice = index
            self._draw_ct()
            self._draw_overlays()

    def _on_window(self, window: wl.WindowLevel) -> None:
        self.ct_item.setLevels((window.low, window.high))

    def _plane_rect(self) -> QRectF:
        width, height = self.state.geometry.plane_size_mm(self.spec)
        return QRectF(0, 0, width, height)

    def _draw_ct(self) -> None:
        image = self.state.ct_slice(self.spec)
        if image is None:
            return
        window = self.state.window
        self.ct_item.setImage(np.ascontiguousarray(image), autoLevels=False, levels=(window.low, window.high))
        self.ct_item.setRect(self._plane_rect())

    def _on_labels_edited(self, box) -> None:
        """Redraw the result only, and only where this view's slice crosses the edit (fast while painting)."""
        if self.state.shows(self.spec, box):
            self._draw_overlays(reference=False)

    def _draw_overlays(self, reference: bool = True) -> None:
        if self.state.geometry is None:
            return
        layers = [(self.result_item, self.state.result_rgba(self.spec))]
        if reference:
            layers.append((self.reference_item, self.state.reference_rgba(self.spec)))
        for item, rgba in layers:
            if rgba is None:
                item.clear()
                item.setVisible(False)
            else:
                item.setImage(rgba, autoLevels=False, levels=(0, 255))
                item.setRect(self._plane_rect())
                item.setVisible(True)

    # ----- screen -> state -----------------------------------------------
    def place_cursor(self, point: QPointF) -> None:
        geometry = self.state.geometry
        if geometry is None:
            return
        index = geometry.scene_to_display(self.spec, self.state.cursor[self.spec.slice_axis], point.x(), point.y())
        self.state.set_cursor(index)

    def editing(self) -> bool:
        return self.pointer_tool is not None and bool(self.pointer_tool.active) and self.state.geometry is not None

    def display_point_at(self, point: QPointF) -> tuple[float, float, float]:
        """Continuous display (S, P, L) position under a scene point (voxel centres at integers)."""
        spacing = self.state.geometry.spacing  # type: ignore[union-attr]
        position = [0.0, 0.0, 0.0]
        position[self.spec.slice_axis] = float(self.state.cursor[self.spec.slice_axis])
        position[self.spec.col_axis] = point.x() / spacing[self.spec.col_axis] - 0.5
        position[self.spec.row_axis] = point.y() / spacing[self.spec.row_axis] - 0.5
        return tuple(position)  # type: ignore[return-value]

    def edit_gesture(self, phase: str, point: QPointF | None) -> None:
        """Forward a left press / move / release to the edit tool."""
        tool = self.pointer_tool
        if phase == "release" or point is None:
            tool.pointer_release(self.spec)
        elif phase == "press":
            tool.pointer_press(self.spec, self.display_point_at(point))
        else:
            tool.pointer_move(self.spec, self.display_point_at(point))

    def display_index_at(self, point: QPointF) -> tuple[int, int, int] | None:
        geometry = self.state.geometry
        if geometry is None:
            return None
        index = geometry.scene_to_display(
            self.spec, self.state.cursor[self.spec.slice_axis], point.x(), point.y(), clamp=False
        )
        return index if geometry.contains(index) else None

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        point = self.viewbox.mapSceneToView(scene_pos)
        index = self.display_index_at(point)
        self.hovered.emit(self.state.readout(index) if index is not None else "")
        radius = float(self.pointer_tool.brush_radius_mm) if self.editing() else 0.0
        self.brush_outline.setVisible(radius > 0 and index is not None)
        if radius > 0:  # the plane is drawn in mm: the brush's circle has its radius in mm
            self.brush_outline.setRect(QRectF(point.x() - radius, point.y() - radius, 2 * radius, 2 * radius))

    def _on_key(self, ev: QKeyEvent) -> None:
        key = ev.key()
        steps = {
            Qt.Key.Key_PageUp: 10,
            Qt.Key.Key_PageDown: -10,
            Qt.Key.Key_Up: 1,
            Qt.Key.Key_Down: -1,
            Qt.Key.Key_Right: 1,
            Qt.Key.Key_Left: -1,
        }
        if key in steps:
            self.state.move_slice(self.spec, steps[key])
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            self.viewbox.scaleBy((0.8, 0.8))
        elif key == Qt.Key.Key_Minus:
            self.viewbox.scaleBy((1.25, 1.25))
        elif key == Qt.Key.Key_Home:
            self.reset_zoom()
        else:
            ev.ignore()
            return
        ev.accept()
