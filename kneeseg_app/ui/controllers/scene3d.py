"""Decides what the 3D view shows besides the bones: the plan, a CT plane, 3D measurements. No GL.

It follows the plan (landmarks dragged in a slice view move the 3D markers and axes),
the slice views' cursor and window (the CT plane moves with the chosen view's slice and
is rebuilt only when that slice or the window changes), and turns a click in the 3D view
into a point: a landmark within ``SNAP_PX`` of the click, else the displayed surface
under it. The 3D widget only draws what this emits, so the whole behaviour is tested
where OpenGL is missing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from kneeseg_app.core.mesh.pick import ray_hit_distance
from kneeseg_app.ui.state.camera_ray import Camera, nearest_within, pixel_ray, project_to_pixels
from kneeseg_app.ui.state.display_geometry import VIEWS
from kneeseg_app.ui.state.measure3d import Measure3DState
from kneeseg_app.ui.state.plan3d import PlanScene, plan_scene
from kneeseg_app.ui.state.plane3d import PlaneQuad, plane_quad
from kneeseg_app.ui.state.planning_state import PlanningState
from kneeseg_app.ui.state.viewer_state import ViewerState

SNAP_PX = 8.0
"""A click this close (logical pixels) to a shown landmark takes the landmark itself."""
NO_PLANE = "none"


class Scene3DController(QObject):
    planChanged = Signal(object)  # PlanScene (empty while hidden or without a plan)
    planeChanged = Signal(object)  # PlaneQuad or None
    measurementsChanged = Signal(object)  # list of Measurement3D to draw

    def __init__(
        self, planning: PlanningState, viewer: ViewerState, measures: Measure3DState, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.planning, self.viewer, self.measures = planning, viewer, measures
        self.show_plan = True
        self.show_names = True
        self.plane_view = NO_PLANE
        self.scene = PlanScene()
        self.plane: PlaneQuad | None = None
        self._plane_key: tuple | None = None
        self._meshes: list[tuple[np.ndarray, np.ndarray]] = []
        planning.changed.connect(lambda _side: self.refresh_plan())
        viewer.cursorChanged.connect(lambda _cursor: self.refresh_plane())
        viewer.windowChanged.connect(lambda _window: self.refresh_plane())
        viewer.volumeChanged.connect(self.refresh_plane)
        measures.changed.connect(lambda: self.measurementsChanged.emit(self.measures.shown()))

    # ----- the plan -------------------------------------------------------------------
    def set_show_plan(self, show: bool) -> None:
        self.show_plan = bool(show)
        self.refresh_plan()

    def set_show_names(self, show: bool) -> None:
        """Landmark names beside the markers (they crowd a small view)."""
        self.show_names = bool(show)
        self.refresh_plan()

    def refresh_plan(self) -> None:
        self.scene = plan_scene(self.planning.plan, self.show_names) if self.show_plan else PlanScene()
        self.planChanged.emit(self.scene)

    # ----- the CT plane ---------------------------------------------------------------
    def set_plane_view(self, name: str) -> None:
        """'none', 'Axial', 'Coronal' or 'Sagittal': which slice view's slice the 3D view shows."""
        if name != NO_PLANE and name not in {v.name for v in VIEWS}:
            raise ValueError(f"no slice view {name!r}")
        self.plane_view = name
        self.refresh_plane()

    def refresh_plane(self) -> None:
        """Rebuild the plane when its slice, the window or the volume changed (not on every cursor move)."""
        state = self.viewer
        spec = next((v for v in VIEWS if v.name == self.plane_view), None)
        if spec is None or state.volume is None or state.geometry is None:
            key = None
        else:
            key = (id(state.volume), spec.name, state.cursor[spec.slice_axis], state.window)
        if key == self._plane_key:
            return
        self._plane_key = key
        if key is None:
            self.plane = None
        else:
            image = state.ct_slice(spec)
            self.plane = plane_quad(
                state.volume, state.geometry, spec, state.cursor[spec.slice_axis], image, state.window
            )
        self.planeChanged.emit(self.plane)

    # ----- clicks in the 3D view ------------------------------------------------------
    def set_meshes(self, meshes: dict[str, Any], _names: Any = None) -> None:
        """The displayed surfaces (LPS mm): what a click picks on."""
        self._meshes = [(np.asarray(m.vertices), np.asarray(m.faces)) for m in meshes.values()]

    def clear_meshes(self) -> None:
        self._meshes = []

    def pick(self, x: float, y: float, camera: Camera) -> tuple[np.ndarray, str] | None:
        """The point under logical pixel (x, y): (LPS point, landmark name or '')."""
        if self.scene.markers:
            pixels, in_front = project_to_pixels(camera, self.scene.marker_points())
            index = nearest_within(pixels, in_front, x, y, SNAP_PX)
            if index is not None:
                marker = self.scene.markers[index]
                return marker.point.copy(), marker.name
        origin, direction = pixel_ray(camera, x, y)
        hits = [ray_hit_distance(origin, direction, v, f) for v, f in self._meshes]
        distances = [d for d in hits if d is not None]
        if not distances:
            return None
        return origin + min(distances) * direction, ""

    def click(self, x: float, y: float, camera: Camera) -> bool:
        """A click while a 3D measurement is being placed adds its point (False: nothing there)."""
        if self.measures.mode is None:
            return False
        picked = self.pick(x, y, camera)
        if picked is None:
            return False
        self.measures.add_point(*picked)
        return True
