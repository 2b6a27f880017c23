"""What the 3D view is told to draw, decided without OpenGL: plan, CT plane, clicks that measure."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from pyqtgraph.opengl.GLViewWidget import GLViewMixin
from PySide6.QtGui import QVector3D

from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.planning import plan_labels
from kneeseg_app.ui.controllers.scene3d import SNAP_PX, Scene3DController
from kneeseg_app.ui.state.camera_ray import Camera, from_column_major, project_to_pixels
from kneeseg_app.ui.state.display_geometry import AXIAL, CORONAL
from kneeseg_app.ui.state.measure3d import Measure3DState
from kneeseg_app.ui.state.plane3d import plane_corners
from kneeseg_app.ui.state.planning_state import PlanningState
from kneeseg_app.ui.state.viewer_state import ViewerState
from kneeseg_app.ui.state.window_level import WindowLevel


@pytest.fixture(scope="module")
def planned():
    phantom = generate_phantom(
        4, shape_zyx=(181, 280, 280), spacing_zyx=(1.0, 0.75, 0.75), both_legs=False, osteoarthritis=False,
        coverage_mm=(90.0, 90.0),
    )  # fmt: skip
    return phantom, plan_labels(phantom.labels, phantom.ct)


@pytest.fixture
def scene(qtbot, planned):
    phantom, plan = planned
    planning, viewer, measures = PlanningState(), ViewerState(), Measure3DState()
    viewer.set_volume(phantom.ct)
    controller = Scene3DController(planning, viewer, measures)
    return SimpleNamespace(
        controller=controller, planning=planning, viewer=viewer, measures=measures, plan=plan, labels=phantom.labels
    )


def front_camera(centre: np.ndarray, distance: float = 400.0) -> Camera:
    """pyqtgraph's camera of the 'Front view' (azimuth -90, elevation 10), orbiting LPS ``centre``."""
    opts = {"distance": distance, "fov": 60.0, "elevation": 10.0, "azimuth": -90.0, "center": QVector3D(0, 0, 0)}
    view = SimpleNamespace(opts={**opts, "rotationMethod": "euler"})
    viewport = (0, 0, 600, 500)
    return Camera(
        view=from_column_major(GLViewMixin.viewMatrix(view).data()),
        projection=from_column_major(GLViewMixin.projectionMatrix(view, viewport, viewport).data()),
        size=(600.0, 500.0),
        offset=np.asarray(centre, float),
    )


def test_the_plans_landmarks_and_axes_follow_the_plan_and_a_dragged_landmark(qtbot, scene) -> None:
    with qtbot.waitSignal(scene.controller.planChanged) as shown:
        scene.planning.set_plan(scene.plan)
    drawn = shown.args[0]
    assert len(drawn.markers) == len(scene.planning.landmarks()) > 10
    assert {"transepicondylar_axis", "posterior_condylar_axis", "femoral_shaft_axis", "plateau_outline"} <= {
        line.name for line in drawn.lines
    }
    side = scene.plan.knees[0].side
    point = scene.planning.knee(side).finding("epicondyle_medial").point + np.array([0.0, -6.0, 2.0])
    with qtbot.waitSignal(scene.controller.planChanged) as moved:
        scene.planning.move(side, "epicondyle_medial", point)
    marker = next(m for m in moved.args[0].markers if m.name == "epicondyle_medial")
    tea = next(line for line in moved.args[0].lines if line.name == "transepicondylar_axis")
    np.testing.assert_allclose(marker.point, point)
    np.testing.assert_allclose(tea.points[1], point)  # the axis ends at the moved landmark
    scene.controller.set_show_names(False)  # markers without their names
    assert scene.controller.scene.markers and {m.label for m in scene.controller.scene.markers} == {""}
    scene.controller.set_show_plan(False)
    assert scene.controller.scene.markers == ()


def test_the_ct_plane_is_the_chosen_views_slice_and_moves_only_with_that_slice(qtbot, scene) -> None:
    viewer, controller = scene.viewer, scene.controller
    assert controller.plane is None
    with qtbot.waitSignal(controller.planeChanged) as shown:
        controller.set_plane_view("Axial")
    plane = shown.args[0]
    k = viewer.cursor[AXIAL.slice_axis]
    np.testing.assert_allclose(plane.corners(), plane_corners(viewer.volume, viewer.geometry, AXIAL, k), atol=1e-6)
    assert plane.slice_index == k and max(plane.texture.shape[:2]) <= 512
    emitted = []
    controller.planeChanged.connect(emitted.append)
    viewer.move_slice(CORONAL, 5)  # another view scrolls: the axial slice is the same
    assert emitted == []
    viewer.move_slice(AXIAL, 7)
    assert len(emitted) == 1 and emitted[0].slice_index == k + 7
    viewer.set_window(WindowLevel(400.0, 40.0))  # a new window: the same plane, a new texture
    assert len(emitted) == 2 and not np.array_equal(emitted[1].texture, emitted[0].texture)
    controller.set_plane_view("none")
    assert emitted[-1] is None
    with pytest.raises(ValueError):
        controller.set_plane_view("Oblique")


def test_a_click_picks_the_surface_under_the_mouse_or_snaps_to_a_landmark(qtbot, scene) -> None:
    from kneeseg_app.core import mesh

    surfaces = mesh.bone_meshes(scene.labels, {1: "femur", 2: "tibia"}, target_triangles=20000)
    scene.controller.set_meshes(surfaces)
    scene.planning.set_plan(scene.plan)
    vertices = np.concatenate([m.vertices for m in surfaces.values()])
    centre = (vertices.min(axis=0) + vertices.max(axis=0)) / 2
    camera = front_camera(centre)

    # a surface point of the femur, seen from the front: the nearest vertex to the camera along its pixel's ray
    femur = surfaces["femur"].vertices
    target = femur[np.argmin(femur[:, 1])]  # the most anterior vertex: nothing in front of it
    x, y = project_to_pixels(camera, target)[0][0]
    picked = scene.controller.pick(x, y, camera)
    assert picked is not None and picked[1] == ""
    assert np.linalg.norm(picked[0] - target) < 2.0  # on the surface where the ray enters it

    # a click in empty space misses
    assert scene.controller.pick(3.0, 3.0, camera) is None

    # near a landmark's pixel the landmark itself is taken
    marker = scene.controller.scene.markers[0]
    mx, my = project_to_pixels(camera, marker.point)[0][0]
    point, name = scene.controller.pick(mx + SNAP_PX / 2, my, camera)
    assert name == marker.name and np.allclose(point, marker.point)

    # measuring: two clicks make a distance
    assert not scene.controller.click(mx, my, camera)  # not measuring yet: nothing happens
    scene.measures.start("distance")
    with qtbot.waitSignal(scene.controller.measurementsChanged) as drawn:
        assert scene.controller.click(mx, my, camera)
    assert len(drawn.args[0]) == 1 and len(drawn.args[0][0].points) == 1  # the pending one is drawn
    scene.controller.click(x, y, camera)
    done = scene.measures.measurements[0]
    assert done.value() == pytest.approx(np.linalg.norm(picked[0] - marker.point), abs=1e-6)
