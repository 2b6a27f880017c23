"""Turns pointer gestures in the slice views into edits of the session's LabelEditor.

No widgets and no editing logic: the tool settings live here, the labels, the operations
and undo live in :mod:`kneeseg_app.core.editing`. A slice view calls ``pointer_press`` /
``pointer_move`` / ``pointer_release`` with a *display* position (continuous S, P, L
voxel coordinates); this controller maps it to the array (z, y, x) and to the array axis
the view slices, and runs the active tool.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from PySide6.QtCore import QObject, Signal

from kneeseg_app.core.editing import BONE_HU_RANGE, BrushShape, DrawOver, EditEvent, LabelEditor, PaintScope
from kneeseg_app.core.errors import KneeSegError
from kneeseg_app.ui.state.display_geometry import AXIAL, DisplayGeometry, ViewSpec

Point = tuple[float, float, float]


class EditTool(StrEnum):
    """Tools that act on a click or drag in a slice view."""

    NONE = "none"
    BRUSH = "brush"
    ERASER = "eraser"
    FILL = "fill"
    REMOVE_ISLAND = "remove island"
    KEEP_ISLAND = "keep island"


DRAG_TOOLS = (EditTool.BRUSH, EditTool.ERASER)


@dataclass(frozen=True)
class EditSettings:
    """What the Edit panel shows and the tools use."""

    tool: EditTool = EditTool.NONE
    radius_mm: float = 3.0
    three_d: bool = False
    active_label: int = 1
    hu_limited: bool = False
    hu_range: tuple[float, float] = BONE_HU_RANGE
    draw_over: DrawOver = DrawOver.ALL
    over_label: int = 0
    smooth_mm: float = 1.0

    def scope(self) -> PaintScope:
        return PaintScope(
            hu_range=self.hu_range if self.hu_limited else None, draw_over=self.draw_over, over_label=self.over_label
        )


def display_to_array_point(geometry: DisplayGeometry, point: Point) -> Point:
    """Continuous array (z, y, x) position of a continuous display (S, P, L) position."""
    out = [0.0, 0.0, 0.0]
    for d in range(3):
        a = geometry.perm[d]
        out[a] = geometry.array_shape[a] - 1 - point[d] if geometry.flip[d] else point[d]
    return tuple(out)  # type: ignore[return-value]


class EditController(QObject):
    """The active tool and its settings; forwards gestures and actions to the editor."""

    settingsChanged = Signal(object)  # EditSettings
    labelsChanged = Signal(object)  # EditEvent: every change, live strokes included (redraw)
    edited = Signal()  # a finished step, undo, redo or revert (volumes, metrics, surfaces)
    availabilityChanged = Signal(bool)  # an editable result is there or not
    message = Signal(str)  # one sentence when a tool cannot do what was asked

    def __init__(self, geometry_source: Any, parent: QObject | None = None) -> None:
        """``geometry_source`` has ``.geometry`` (a DisplayGeometry or None): the ViewerState."""
        super().__init__(parent)
        self._geometry_source = geometry_source
        self.settings = EditSettings()
        self.editor: LabelEditor | None = None
        self.last_view: ViewSpec = AXIAL
        self._dragging = False

    # ----- the editor -------------------------------------------------------------
    def attach(self, editor: LabelEditor | None) -> None:
        """Edit this editor's labels (None: nothing to edit, the tool is left)."""
        if self.editor is not None:
            self.editor.unsubscribe(self._on_event)
        self.editor = editor
        self._dragging = False
        if editor is not None:
            editor.subscribe(self._on_event)
        else:
            self.set_tool(EditTool.NONE)
        self.availabilityChanged.emit(editor is not None)

    @property
    def active(self) -> bool:
        """True when a left click/drag in a slice view edits (otherwise it moves the crosshair)."""
        return self.editor is not None and self.settings.tool is not EditTool.NONE

    @property
    def brush_radius_mm(self) -> float:
        """Radius of the brush outline the views draw under the mouse (0: no brush tool)."""
        return self.settings.radius_mm if self.active and self.settings.tool in DRAG_TOOLS else 0.0

    def _on_event(self, event: EditEvent) -> None:
        self.labelsChanged.emit(event)
        if event.kind != "stroke":
            self.edited.emit()

    # ----- settings ---------------------------------------------------------------
    def update(self, **changes: Any) -> None:
        """Change settings (tool, radius_mm, active_label...) and tell the panel."""
        new = replace(self.settings, **changes)
        if self.editor is None and new.tool is not EditTool.NONE:
            new = replace(new, tool=EditTool.NONE)  # nothing to edit: the views keep the crosshair
            if changes.get("tool", EditTool.NONE) is not EditTool.NONE:
                self.message.emit("Segment the CT first: the tools edit the model's result.")
        if new != self.settings:
            if new.tool != self.settings.tool:
                self.end_drag()
            self.settings = new
            self.settingsChanged.emit(new)

    def set_tool(self, tool: EditTool) -> None:
        self.update(tool=EditTool(tool))

    # ----- gestures from a slice view ------------------------------------------------
    def pointer_press(self, view: ViewSpec, display_point: Point) -> None:
        if not self.active:
            return
        self.last_view = view
        point = self._to_array(display_point)
        tool = self.settings.tool
        if tool in DRAG_TOOLS:
            self._begin_stroke(view, point)
        else:
            self._click(tool, view, tuple(int(round(c)) for c in point))  # type: ignore[arg-type]

    def pointer_move(self, view: ViewSpec, display_point: Point) -> None:
        if self._dragging and self.editor is not None and self.editor.open_stroke is not None:
            self.editor.open_stroke.add(self._to_array(display_point))

    def pointer_release(self, view: ViewSpec | None = None) -> None:
        self.end_drag()

    def end_drag(self) -> None:
        if self._dragging and self.editor is not None:
            self._dragging = False
            self.editor.finish_stroke()

    def _begin_stroke(self, view: ViewSpec, point: Point) -> None:
        assert self.editor is not None
        s = self.settings
        axis = None if s.three_d else self.array_axis(view)
        value = s.active_label if s.tool is EditTool.BRUSH else 0
        stroke = self.editor.begin_stroke(BrushShape(s.radius_mm, axis), value, s.scope())
        self._dragging = True
        stroke.add(point)

    def _click(self, tool: EditTool, view: ViewSpec, index: tuple[int, int, int]) -> None:
        assert self.editor is not None
        actions = {
            EditTool.FILL: lambda: self.editor.fill(  # type: ignore[union-attr]
                index, self.settings.active_label, self.array_axis(view), self.settings.scope()
            ),
            EditTool.REMOVE_ISLAND: lambda: self.editor.remove_island(index),  # type: ignore[union-attr]
            EditTool.KEEP_ISLAND: lambda: self.editor.keep_island(index),  # type: ignore[union-attr]
        }
        self._run(actions[tool])

    # ----- one-shot actions (buttons, shortcuts) -----------------------------------------
    def undo(self) -> bool:
        return bool(self.editor is not None and self._run(self.editor.undo))

    def redo(self) -> bool:
        return bool(self.editor is not None and self._run(self.editor.redo))

    def revert(self) -> int:
        return int(self._run(self.editor.revert_to_model) or 0) if self.editor is not None else 0

    def smooth(self, this_slice_only: bool = False) -> int:
        """Smooth the active bone (3D, or in the last view's current slice)."""
        if self.editor is None:
            return 0
        plane = self._current_plane() if this_slice_only else None
        return int(
            self._run(lambda: self.editor.smooth(self.settings.smooth_mm, self.settings.active_label, plane)) or 0
        )  # type: ignore[union-attr]

    def fill_holes(self, per_slice: bool = False) -> int:
        """Fill the active bone's holes: enclosed in 3D, or within each slice of the last view."""
        if self.editor is None:
            return 0
        axis = self.array_axis(self.last_view) if per_slice else None
        return int(self._run(lambda: self.editor.fill_holes(self.settings.active_label, axis)) or 0)  # type: ignore[union-attr]

    def interpolate(self) -> int:
        """Interpolate the active bone between the last two slices painted in the last view."""
        if self.editor is None:
            return 0
        axis = self.array_axis(self.last_view)
        return int(self._run(lambda: self.editor.interpolate(self.settings.active_label, axis)) or 0)  # type: ignore[union-attr]

    def _run(self, action: Any) -> Any:
        self.end_drag()
        try:
            return action()
        except KneeSegError as exc:
            self.message.emit(str(exc))
            return None

    # ----- geometry ---------------------------------------------------------------------
    def array_axis(self, view: ViewSpec) -> int:
        geometry = self._geometry()
        return geometry.perm[view.slice_axis] if geometry is not None else view.slice_axis

    def _current_plane(self) -> tuple[int, int]:
        geometry = self._geometry()
        cursor = getattr(self._geometry_source, "cursor", (0, 0, 0))
        assert geometry is not None
        array_index = geometry.to_array_index(cursor)
        axis = self.array_axis(self.last_view)
        return axis, int(array_index[axis])

    def _geometry(self) -> DisplayGeometry | None:
        return getattr(self._geometry_source, "geometry", None)

    def _to_array(self, display_point: Point) -> Point:
        geometry = self._geometry()
        return display_to_array_point(geometry, display_point) if geometry is not None else display_point
