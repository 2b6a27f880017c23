"""Puts planning into the main window: the Plan tab, landmark targets in the three slice views.

"Plan this result" runs the core's planning (the same as ``kneeseg plan``) in the background
on the current, possibly edited, result and its CT; the landmarks appear in the slice views
where they can be dragged, and the Plan tab's tables follow. A new result clears the plan.
The 3D view's part (landmarks, axes, CT plane, 3D measuring) is in ``plan3d_wiring``; the
measurements table lists the rulers and angles of the slice views and of the 3D view.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from kneeseg_app.core.errors import KneeSegError
from kneeseg_app.core.planning import plan_labels
from kneeseg_app.core.planning.serialize import plan_dict, write_plan
from kneeseg_app.ui.controllers.workers import Task
from kneeseg_app.ui.state.planning_state import PlanningState
from kneeseg_app.ui.widgets.landmark_overlay import LandmarkOverlay
from kneeseg_app.ui.widgets.measure_table import MeasureTable
from kneeseg_app.ui.widgets.measure_tools import Measurement, add_angle, add_ruler
from kneeseg_app.ui.widgets.planning_panel import PlanningPanel
from kneeseg_app.ui.windows.plan3d_wiring import Plan3DWiring


class PlanningWiring:
    """Creates the PlanningState, the Plan tab and one landmark overlay per slice view of ``window``."""

    def __init__(self, window: Any) -> None:
        self.w = window
        self.state = PlanningState(window)
        self.panel = PlanningPanel(self.state)
        self.button = QPushButton("Plan this result")
        self.button.setObjectName("plan_button")
        self.button.clicked.connect(self.plan_current)
        self.save_button = QPushButton("Save plan (JSON) ...")
        self.save_button.setObjectName("save_plan_button")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self.save_plan)
        self.status = QLabel("Landmarks, axes and sizes of each knee; drag a landmark in a view to correct it.")
        self.status.setWordWrap(True)
        tab = QWidget()
        tab.setObjectName("plan_tab")
        layout = QVBoxLayout(tab)
        layout.addWidget(self.status)
        layout.addWidget(self.button)
        layout.addWidget(self.save_button)
        self.plan3d = Plan3DWiring(window, self.state)
        self.measure_table = MeasureTable()
        self.measure_table.deleteRequested.connect(self.delete_measurement)
        self.measure_table.clearRequested.connect(self.clear_measurements)
        self.plan3d.measures.changed.connect(self.refresh_measure_table)
        layout.addWidget(self.plan3d.show_names)
        layout.addLayout(self._measure_row())
        layout.addWidget(self.measure_table)
        layout.addWidget(self.panel, 1)
        window.tabs.addTab(tab, "Plan")
        self.overlays = [LandmarkOverlay(view, self.state) for view in window.viewer.views.values()]
        self.task: Task | None = None
        window.session.resultChanged.connect(lambda _result: self.state.set_plan(None))
        self.state.changed.connect(lambda _side: self.save_button.setEnabled(self.state.plan is not None))

    def plan_current(self) -> None:
        """Plan the current result in the background (the button is disabled meanwhile)."""
        result, ct = self.w.session.result, self.w.session.volume
        if result is None or ct is None:
            self.status.setText("Segment (or open a result) first: planning reads the femur and tibia labels.")
            return
        labels = result.labels
        self.button.setEnabled(False)
        self.status.setText("Planning ...")
        task = Task(lambda progress, cancel: plan_labels(labels, ct), name="planning", parent=self.w)
        task.finished.connect(self._on_planned)
        task.failed.connect(self._on_failed)
        self.task = task.start()

    def _on_planned(self, plan: Any) -> None:
        self.button.setEnabled(True)
        self.state.set_plan(plan)
        sides = ", ".join(f"{k.side or 'unknown'} knee ({k.side_confidence})" for k in plan.knees)
        self.status.setText(f"Planned in {plan.seconds:.1f} s: {sides}. Drag a landmark in a view to correct it.")

    def _on_failed(self, exc: BaseException) -> None:
        self.button.setEnabled(True)
        self.status.setText("Planning failed.")
        self.w.dialogs.exception("Cannot plan this result", exc)

    def save_plan(self) -> None:
        """Write the shown plan, hand corrections and the 3D view's measurements included, as plan.json
        (schema: docs/plan-schema.md)."""
        if self.state.plan is None:
            return
        path = self.w.dialogs.choose_save_file("Save the plan", "plan.json", "Plan (*.json)")
        if not path:
            return
        try:
            measured = [m.as_plan_entry() for m in self.plan3d.measures.measurements]
            write_plan(plan_dict(self.state.plan, user_measurements=measured), path, self.w.session.protected_paths)
        except KneeSegError as exc:
            self.w.dialogs.exception("Cannot save the plan", exc)
            return
        self.status.setText(f"Plan saved to {path}.")

    def _measure_row(self) -> QHBoxLayout:
        """Ruler / angle / clear, in the view chosen beside them."""
        self.measurements: list[Measurement] = []
        self.measure_view = QComboBox()
        self.measure_view.addItems([*self.w.viewer.views, "3D"])
        row = QHBoxLayout()
        row.addWidget(QLabel("Measure in"))
        row.addWidget(self.measure_view)
        for text, make in (("Ruler", add_ruler), ("Angle", add_angle)):
            button = QPushButton(text)
            button.setObjectName(f"measure_{text.lower()}")
            button.clicked.connect(lambda _checked=False, make=make: self.add_measurement(make))
            row.addWidget(button)
        clear = QPushButton("Clear")
        clear.clicked.connect(self.clear_measurements)
        row.addWidget(clear)
        return row

    def add_measurement(self, make) -> Measurement | None:
        """A ruler or angle in the chosen slice view, or, for '3D', start placing one by clicks."""
        if self.measure_view.currentText() == "3D":
            self.status.setText(self.plan3d.start("distance" if make is add_ruler else "angle"))
            return None
        view = self.w.viewer.views[self.measure_view.currentText()]
        measurement = make(view)
        measurement.on_change = self.refresh_measure_table
        self.measurements.append(measurement)
        self.refresh_measure_table()
        return measurement

    def delete_measurement(self, row: int) -> None:
        """Row ``row`` of the measurements table: the slice views' ones come first, then 3D."""
        if row < len(self.measurements):
            self.measurements.pop(row).remove()
            self.refresh_measure_table()
        elif row - len(self.measurements) < len(self.plan3d.measures.measurements):
            self.plan3d.measures.delete(row - len(self.measurements))

    def clear_measurements(self) -> None:
        for measurement in self.measurements:
            measurement.remove()
        self.measurements.clear()
        self.plan3d.measures.clear()
        self.refresh_measure_table()

    def refresh_measure_table(self) -> None:
        rows = [(m.view.spec.name, m.kind, m.text(), "") for m in self.measurements]
        rows += [("3D", m.kind, m.text(), m.describe()) for m in self.plan3d.measures.measurements]
        pending = self.plan3d.measures.pending
        if pending is not None:
            rows.append(("3D", pending.kind, pending.text(), pending.describe()))
        self.measure_table.show_rows(rows)
