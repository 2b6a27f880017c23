"""The GL items of the 3D view besides the bones: plan markers and axes, the CT plane, 3D measurements.

Thin: what to draw comes from :class:`~kneeseg_app.ui.controllers.scene3d.Scene3DController`
(LPS mm); here it is only shifted into the view's world (LPS - offset, the bones' centre)
and handed to pyqtgraph. Markers, axes and measurements are drawn over the bones (no
depth test): a posterior landmark stays visible from the front, as on a radiograph.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyqtgraph as pg
import pyqtgraph.opengl as gl
from OpenGL import GL
from PySide6.QtGui import QColor, QFont, QMatrix4x4

from kneeseg_app.ui.state.measure3d import Measurement3D
from kneeseg_app.ui.state.plan3d import PlanScene
from kneeseg_app.ui.state.plane3d import PlaneQuad

ON_TOP = {
    GL.GL_DEPTH_TEST: False,
    GL.GL_BLEND: True,
    GL.GL_CULL_FACE: False,
    "glBlendFunc": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA),
}
MEASURE_COLOUR = "#ffff40"
LABEL_FONT_PT = 8


def _rgba(colour: str) -> tuple[float, float, float, float]:
    return pg.mkColor(colour).getRgbF()


class Overlays3D:
    """Adds, replaces and removes the overlay items of one GL view."""

    def __init__(self, gl_view: Any) -> None:
        self.gl = gl_view
        self.offset = np.zeros(3)
        self.scene = PlanScene()
        self.plane: PlaneQuad | None = None
        self.measurements: list[Measurement3D] = []
        self._items: dict[str, list[Any]] = {"plan": [], "plane": [], "measure": []}

    def set_offset(self, offset: np.ndarray) -> None:
        """The bones were re-centred: draw everything again around the new centre."""
        self.offset = np.asarray(offset, dtype=np.float64)
        self.show_plan(self.scene)
        self.show_plane(self.plane)
        self.show_measurements(self.measurements)

    def clear(self) -> None:
        for group in self._items:
            self._replace(group, [])

    def _replace(self, group: str, items: list[Any]) -> None:
        for item in self._items[group]:
            self.gl.removeItem(item)
        for item in items:
            self.gl.addItem(item)
        self._items[group] = items

    def _world(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, dtype=np.float64) - self.offset).astype(np.float32)

    def _text(self, point: np.ndarray, text: str, colour: str) -> Any:
        font = QFont()
        font.setPointSize(LABEL_FONT_PT)
        item = gl.GLTextItem(pos=self._world(point), text=text, color=QColor(colour), font=font)
        item.setDepthValue(20)
        return item

    def _points(self, points: np.ndarray, colours: list[str], size: float) -> Any:
        item = gl.GLScatterPlotItem(
            pos=self._world(points), color=np.array([_rgba(c) for c in colours]), size=size, pxMode=True
        )
        item.setGLOptions(ON_TOP)
        item.setDepthValue(10)
        return item

    def _line(self, points: np.ndarray, colour: str, width: float = 2.0) -> Any:
        item = gl.GLLinePlotItem(
            pos=self._world(points), color=_rgba(colour), width=width, antialias=True, mode="line_strip"
        )
        item.setGLOptions(ON_TOP)
        item.setDepthValue(10)
        return item

    def show_plan(self, scene: PlanScene) -> None:
        self.scene = scene
        items = [self._line(line.points, line.colour) for line in scene.lines]
        if scene.markers:
            items.append(self._points(scene.marker_points(), [m.colour for m in scene.markers], 9.0))
            items += [self._text(m.point, " " + m.label, m.colour) for m in scene.markers if m.label]
        self._replace("plan", items)

    def show_plane(self, plane: PlaneQuad | None) -> None:
        """Show the CT plane, re-using its item: each new item would leave its texture in the GPU."""
        self.plane = plane
        if plane is None:
            self._replace("plane", [])
            return
        if self._items["plane"]:
            item = self._items["plane"][0]
            item.setData(plane.texture)
        else:
            item = gl.GLImageItem(plane.texture, smooth=True, glOptions="translucent")
            item.setDepthValue(5)  # after the bones: blended over those behind it
            self._replace("plane", [item])
        item.setTransform(QMatrix4x4(*plane.matrix(self.offset).flatten().tolist()))

    def show_measurements(self, measurements: list[Measurement3D]) -> None:
        self.measurements = list(measurements)
        items = []
        for m in self.measurements:
            points = np.array(m.points)
            if len(points) > 1:
                items.append(self._line(points, MEASURE_COLOUR, 2.5))
            items.append(self._points(points, [MEASURE_COLOUR] * len(points), 7.0))
            if m.complete:
                anchor = points[1] if m.kind == "angle" else points.mean(axis=0)
                items.append(self._text(anchor, " " + m.text(), MEASURE_COLOUR))
        self._replace("measure", items)
