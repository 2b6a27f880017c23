"""Puts the plan into the 3D view: landmarks and axes, a CT plane, distances and angles on the bones.

The 3D view's header gets a 'Plan' switch and a 'CT plane' choice; the Plan tab's
measuring tools measure in the 3D view when 'Measure in' says 3D (click two or three
points on the bones or on landmarks). What is drawn is decided by the
:class:`Scene3DController` (tested where OpenGL is missing); the view only draws it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QCheckBox, QComboBox, QLabel

from kneeseg_app.ui.controllers.scene3d import NO_PLANE, Scene3DController
from kneeseg_app.ui.state.measure3d import POINTS_NEEDED, Measure3DState
from kneeseg_app.ui.state.planning_state import PlanningState


class Plan3DWiring:
    """Creates the 3D scene controller of ``window`` and its switches in the 3D view's header."""

    def __init__(self, window: Any, planning: PlanningState) -> None:
        self.w = window
        view = window.viewer.view3d
        self.measures = Measure3DState(window)
        self.controller = Scene3DController(planning, window.viewer_state, self.measures, window)
        self.show_plan = QCheckBox("Plan")
        self.show_plan.setObjectName("view3d_show_plan")
        self.show_plan.setToolTip("Landmarks and axes of the plan in the 3D view")
        self.show_plan.setChecked(True)
        self.show_plan.toggled.connect(self.controller.set_show_plan)
        self.show_names = QCheckBox("Landmark names in the 3D view")
        self.show_names.setObjectName("view3d_show_names")
        self.show_names.setChecked(True)
        self.show_names.toggled.connect(self.controller.set_show_names)
        self.plane = QComboBox()
        self.plane.setObjectName("view3d_ct_plane")
        self.plane.setToolTip("Show the slice of one slice view as a plane in the 3D view")
        self.plane.addItems([NO_PLANE] + list(window.viewer.views))
        self.plane.currentTextChanged.connect(self.controller.set_plane_view)
        at = view.header.indexOf(view.reset_button)
        view.header.insertWidget(at, self.show_plan)
        view.header.insertWidget(at + 1, QLabel("CT plane"))
        view.header.insertWidget(at + 2, self.plane)
        self.controller.planChanged.connect(view.show_plan)
        self.controller.planeChanged.connect(view.show_plane)
        self.controller.measurementsChanged.connect(view.show_measurements)
        self.measures.changed.connect(lambda: view.set_measuring(self.measures.mode is not None))
        view.clicked.connect(self.controller.click)
        window.surfaces.ready.connect(self.controller.set_meshes)

    def start(self, kind: str) -> str:
        """Begin a 3D distance or angle; returns what to tell the user."""
        self.measures.start(kind)
        return f"Click {POINTS_NEEDED[kind]} points on the bones (or on landmarks) in the 3D view."
