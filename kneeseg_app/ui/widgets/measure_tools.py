"""A ruler and an angle in a slice view: drag their ends, read mm or degrees beside them.

A view's scene coordinates are millimetres in its plane (see ``DisplayGeometry``), so a
ruler's length is the distance between its ends as they lie in the patient.
"""

from __future__ import annotations

from collections.abc import Callable

import pyqtgraph as pg

from kneeseg_app.ui.state.measure import angle_deg, distance_mm
from kneeseg_app.ui.widgets.slice_view import SliceView

PEN = pg.mkPen("#ffff40", width=2)


class Measurement:
    """One ruler (two points) or angle (three points, the vertex in the middle) with its label."""

    def __init__(self, view: SliceView, roi: pg.ROI, kind: str) -> None:
        self.view, self.roi, self.kind = view, roi, kind
        self.on_change: Callable[[], None] | None = None
        """Called after the ends moved (the measurements table follows)."""
        self.label = pg.TextItem(color="#ffff40", anchor=(0, 1))
        self.label.setZValue(21)
        view.viewbox.addItem(roi)
        view.viewbox.addItem(self.label)
        roi.sigRegionChanged.connect(lambda _roi: self.update())
        self.update()

    def points(self) -> list[tuple[float, float]]:
        """The ends (and vertex) in the view's plane, mm."""
        parent = [self.roi.mapToParent(pos) for _name, pos in self.roi.getLocalHandlePositions()]
        return [(float(p.x()), float(p.y())) for p in parent]

    def value(self) -> float:
        pts = self.points()
        return distance_mm(pts[0], pts[1]) if self.kind == "ruler" else angle_deg(pts[0], pts[1], pts[2])

    def text(self) -> str:
        return f"{self.value():.1f} mm" if self.kind == "ruler" else f"{self.value():.1f} deg"

    def update(self) -> None:
        pts = self.points()
        anchor = pts[1] if self.kind == "angle" else pts[0]
        self.label.setText(self.text())
        self.label.setPos(*anchor)
        if getattr(self, "on_change", None) is not None:
            self.on_change()

    def remove(self) -> None:
        self.view.viewbox.removeItem(self.roi)
        self.view.viewbox.removeItem(self.label)


def add_ruler(view: SliceView) -> Measurement:
    """A 40 mm ruler across the middle of the view's plane."""
    x, y = _centre(view)
    return Measurement(view, pg.LineSegmentROI([(x - 20.0, y), (x + 20.0, y)], pen=PEN), "ruler")


def add_angle(view: SliceView) -> Measurement:
    """A right angle at the middle of the view's plane, arms 30 mm."""
    x, y = _centre(view)
    roi = pg.PolyLineROI([(x + 30.0, y), (x, y), (x, y - 30.0)], closed=False, pen=PEN)
    return Measurement(view, roi, "angle")


def _centre(view: SliceView) -> tuple[float, float]:
    rect = view.viewbox.viewRect()
    return float(rect.center().x()), float(rect.center().y())
