"""Planning landmarks drawn in a slice view, each one draggable to correct it.

A landmark within ``NEAR_MM`` of the view's slice is shown as a target (femur red, tibia
green); dragging it moves the landmark within the slice's plane (its depth is kept) and
hands the new LPS point to :class:`PlanningState`, which updates everything derived.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from kneeseg_app.ui.state.plan3d import BONE_COLOURS
from kneeseg_app.ui.state.planning_state import PlanningState, display_to_lps, lps_to_display
from kneeseg_app.ui.widgets.slice_view import SliceView

NEAR_MM = 6.0
COLOURS = BONE_COLOURS  # the same in the 3D view


class LandmarkOverlay:
    """The draggable landmark targets of one slice view."""

    def __init__(self, view: SliceView, planning: PlanningState) -> None:
        self.view = view
        self.planning = planning
        self.targets: dict[tuple[str | None, str], pg.TargetItem] = {}
        planning.changed.connect(lambda _side: self.refresh())
        view.state.cursorChanged.connect(lambda _cursor: self.refresh())
        view.state.volumeChanged.connect(self.refresh)

    def _scene(self, display: np.ndarray) -> tuple[float, float, float]:
        """(x mm, y mm, distance to the shown slice in mm) of a display index."""
        geometry, spec = self.view.state.geometry, self.view.spec
        x = (display[spec.col_axis] + 0.5) * geometry.spacing[spec.col_axis]
        y = (display[spec.row_axis] + 0.5) * geometry.spacing[spec.row_axis]
        depth = (
            abs(display[spec.slice_axis] - self.view.state.cursor[spec.slice_axis]) * geometry.spacing[spec.slice_axis]
        )
        return x, y, depth

    def refresh(self) -> None:
        """Place (or hide) every landmark's target for the view's current slice."""
        state = self.view.state
        if state.volume is None or state.geometry is None:
            return
        seen = set()
        for side, bone, name, point in self.planning.landmarks():
            key = (side, name)
            seen.add(key)
            x, y, depth = self._scene(lps_to_display(state.volume, state.geometry, point))
            target = self.targets.get(key) or self._make(key, bone)
            target.blockSignals(True)
            target.setPos(float(x), float(y))
            target.blockSignals(False)
            target.setVisible(bool(depth <= NEAR_MM))
        for key in set(self.targets) - seen:
            self.targets[key].setVisible(False)

    def _make(self, key: tuple[str | None, str], bone: str) -> pg.TargetItem:
        target = pg.TargetItem(
            size=11,
            symbol="o",
            pen=pg.mkPen(COLOURS[bone], width=2),
            movable=True,
            label=key[1].replace("_", " "),
            labelOpts={"color": COLOURS[bone], "offset": (8, -8)},
        )
        target.setZValue(20)
        target.sigPositionChangeFinished.connect(lambda item, key=key: self.dropped(key, item.pos()))
        self.view.viewbox.addItem(target)
        self.targets[key] = target
        return target

    def dropped(self, key: tuple[str | None, str], pos) -> None:
        """A target was let go at ``pos`` (scene mm): move the landmark there, keeping its depth."""
        state = self.view.state
        side, name = key
        knee = self.planning.knee(side)
        if knee is None or state.volume is None:
            return
        spec, geometry = self.view.spec, state.geometry
        display = lps_to_display(state.volume, geometry, knee.finding(name).point)
        display[spec.col_axis] = pos.x() / geometry.spacing[spec.col_axis] - 0.5
        display[spec.row_axis] = pos.y() / geometry.spacing[spec.row_axis] - 0.5
        self.planning.move(side, name, display_to_lps(state.volume, geometry, display))
