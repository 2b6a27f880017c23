"""The plan in the window's 3D view, where OpenGL is missing: the 3D view is still told what to draw."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from pyqtgraph.opengl.GLViewWidget import GLViewMixin
from PySide6.QtCore import Qt
from PySide6.QtGui import QVector3D
from test_main_window_sides import _segment, both_knees_model, two_knee_dicom  # noqa: F401 (fixtures)

from kneeseg_app.ui.state.camera_ray import Camera, from_column_major, project_to_pixels
from kneeseg_app.ui.state.display_geometry import AXIAL
from kneeseg_app.ui.state.plane3d import plane_corners
from kneeseg_app.ui.widgets.measure_tools import add_angle, add_ruler


def front_camera(centre: np.ndarray) -> Camera:
    view = SimpleNamespace(
        opts={"distance": 300.0, "fov": 60.0, "elevation": 10.0, "azimuth": -90.0, "center": QVector3D(0, 0, 0)}
    )
    view.opts["rotationMethod"] = "euler"
    viewport = (0, 0, 500, 400)
    return Camera(
        view=from_column_major(GLViewMixin.viewMatrix(view).data()),
        projection=from_column_major(GLViewMixin.projectionMatrix(view, viewport, viewport).data()),
        size=(500.0, 400.0),
        offset=centre,
    )


def test_the_3d_view_gets_the_landmarks_a_ct_plane_and_3d_measurements(
    qtbot,
    window,
    both_knees_model,  # noqa: F811 (the fixture imported above)
    two_knee_dicom,  # noqa: F811
    tmp_path,
) -> None:
    view3d, plan3d = window.viewer.view3d, window.planning.plan3d
    assert view3d.unavailable_reason  # offscreen: no OpenGL, the panel says why
    _segment(qtbot, window, two_knee_dicom)
    qtbot.mouseClick(window.planning.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.planning.state.plan is not None, timeout=30000)

    # the landmarks and axes of both knees reach the 3D view
    drawn = view3d._overlay_data["plan"]
    assert len(drawn.markers) == len(window.planning.state.landmarks()) > 10
    assert {m.side for m in drawn.markers} == {"left", "right"}
    plan3d.show_plan.setChecked(False)
    assert view3d._overlay_data["plan"].markers == ()
    plan3d.show_plan.setChecked(True)

    # the CT plane: the axial view's slice, following its scrolling
    plan3d.plane.setCurrentText("Axial")
    state = window.viewer_state
    plane = view3d._overlay_data["plane"]
    k = state.cursor[AXIAL.slice_axis]
    np.testing.assert_allclose(plane.corners(), plane_corners(state.volume, state.geometry, AXIAL, k), atol=1e-6)
    window.viewer_state.move_slice(AXIAL, -3)
    assert view3d._overlay_data["plane"].slice_index == k - 3

    # a 3D distance between two landmarks, clicked on their pixels
    window.planning.measure_view.setCurrentText("3D")
    assert window.planning.add_measurement(add_ruler) is None
    assert "Click 2 points" in window.planning.status.text()
    markers = view3d._overlay_data["plan"].markers
    camera = front_camera(np.mean([m.point for m in markers], axis=0))
    a, b = markers[0], markers[1]
    for marker in (a, b):
        x, y = project_to_pixels(camera, marker.point)[0][0]
        view3d.clicked.emit(float(x), float(y), camera)  # what the GL window reports for a click
    measured = plan3d.measures.measurements
    assert len(measured) == 1 and view3d._overlay_data["measure"] == measured
    expected = f"{np.linalg.norm(a.point - b.point):.1f} mm"
    rows = window.planning.measure_table.rows()
    assert rows == [("3D", "distance", expected, f"{a.name} – {b.name}".replace("_", " "))]

    # saved with the plan: plan.json's user_measurements (LPS points, snapped landmarks)
    window.dialogs.save_file = str(tmp_path / "plan.json")
    window.planning.save_plan()
    saved = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))["user_measurements"]
    assert [(m["kind"], m["unit"], m["landmarks"]) for m in saved] == [("distance", "mm", [a.name, b.name])]
    assert saved[0]["value"] == pytest.approx(np.linalg.norm(a.point - b.point), abs=1e-3)
    np.testing.assert_allclose(saved[0]["points_lps"], [a.point, b.point], atol=1e-3)

    # listed next to the slice views' tools; delete one, then clear all
    window.planning.measure_view.setCurrentText("Coronal")
    window.planning.add_measurement(add_angle)
    assert [r[0] for r in window.planning.measure_table.rows()] == ["Coronal", "3D"]
    window.planning.measure_table.table.selectRow(1)
    qtbot.mouseClick(window.planning.measure_table.delete_button, Qt.MouseButton.LeftButton)
    assert plan3d.measures.measurements == [] and [r[0] for r in window.planning.measure_table.rows()] == ["Coronal"]
    window.planning.clear_measurements()
    assert window.planning.measure_table.rows() == [] and window.planning.measurements == []
