"""Planning in the window: landmarks in the slice views, dragged by hand, the table follows."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest

from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.planning import plan_labels
from kneeseg_app.ui.app import configure_pyqtgraph
from kneeseg_app.ui.state.display_geometry import AXIAL
from kneeseg_app.ui.state.planning_state import PlanningState, display_to_lps, lps_to_display
from kneeseg_app.ui.state.viewer_state import ViewerState
from kneeseg_app.ui.widgets.landmark_overlay import LandmarkOverlay
from kneeseg_app.ui.widgets.planning_panel import PlanningPanel
from kneeseg_app.ui.widgets.slice_view import SliceView


@pytest.fixture(scope="module")
def planned():
    phantom = generate_phantom(
        4,
        shape_zyx=(181, 280, 280),
        spacing_zyx=(1.0, 0.75, 0.75),
        both_legs=False,
        osteoarthritis=False,
        coverage_mm=(90.0, 90.0),
    )
    return phantom, plan_labels(phantom.labels, phantom.ct)


def _pca_angle(knee) -> float:
    """TEA against the posterior condylar axis in the femur's axial plane, from the points alone."""
    bone = knee.bones["femur"]
    axes, origin = np.asarray(bone.frame_axes), np.asarray(bone.frame_origin)

    def local(name: str) -> np.ndarray:
        return axes @ (knee.finding(name).point - origin)

    medial = "medial_sulcus" if knee.finding("medial_sulcus").ok else "epicondyle_medial"  # surgical TEA if found
    tea = local("epicondyle_lateral") - local(medial)
    pca = local("posterior_lateral") - local("posterior_medial")
    return math.degrees(math.atan2(tea[1], tea[0]) - math.atan2(pca[1], pca[0]))  # + = TEA externally rotated


def test_display_and_lps_coordinates_round_trip(planned) -> None:
    phantom, _ = planned
    state = ViewerState()
    state.set_volume(phantom.ct)
    point = np.array([3.5, -20.25, 41.0])
    assert np.allclose(
        display_to_lps(phantom.ct, state.geometry, lps_to_display(phantom.ct, state.geometry, point)), point
    )


def test_dragging_the_lateral_epicondyle_updates_the_posterior_condylar_angle(qtbot, planned) -> None:
    phantom, plan = planned
    configure_pyqtgraph()
    state = ViewerState()
    view = SliceView(state, AXIAL)
    planning = PlanningState()
    overlay = LandmarkOverlay(view, planning)
    panel = PlanningPanel(planning)
    for widget in (view, panel):
        qtbot.addWidget(widget)
    view.resize(700, 700)
    view.show()
    qtbot.waitExposed(view)
    state.set_volume(phantom.ct)
    planning.set_plan(plan)
    side = plan.knees[0].side
    knee = planning.knee(side)
    start_point = knee.finding("epicondyle_lateral").point.copy()
    display = lps_to_display(phantom.ct, state.geometry, start_point)
    state.set_cursor(tuple(int(round(v)) for v in display))
    target = overlay.targets[(side, "epicondyle_lateral")]
    assert target.isVisible()
    before = panel.value_text(side, "posterior_condylar_angle_deg")
    assert before == f"{_pca_angle(knee):.2f} deg"

    canvas = view.canvas
    start = canvas.mapFromScene(view.viewbox.mapViewToScene(target.pos()))
    end = QPoint(start.x(), start.y() - 30)  # towards the front of the knee
    QTest.mousePress(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for t in np.linspace(0, 1, 6)[1:]:
        QTest.qWait(20)
        QTest.mouseMove(canvas.viewport(), QPoint(start.x(), int(start.y() - 30 * t)))
    QTest.mouseRelease(canvas.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)

    moved = planning.knee(side).finding("epicondyle_lateral")
    assert moved.note == "set by hand"
    shift = moved.point - start_point
    assert np.linalg.norm(shift) > 3.0 and abs(shift[2]) < 1e-6  # dragged within the axial plane
    assert shift[1] < 0  # towards anterior (LPS y falls)
    after = panel.value_text(side, "posterior_condylar_angle_deg")
    assert after == f"{_pca_angle(planning.knee(side)):.2f} deg" and after != before
    # the computed plan itself is untouched
    assert np.allclose(plan.knees[0].finding("epicondyle_lateral").point, start_point)
    assert isinstance(QPointF(target.pos()), QPointF)
