"""A pixel of the 3D view as a ray in LPS, from pyqtgraph's own camera matrices (no OpenGL needed)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from pyqtgraph.opengl.GLViewWidget import GLViewMixin
from PySide6.QtGui import QVector3D

from kneeseg_app.ui.state.camera_ray import Camera, from_column_major, nearest_within, pixel_ray, project_to_pixels

SIZE = (640.0, 480.0)
OFFSET = np.array([12.0, -40.0, 310.0])  # the bones' centre: the view's world is LPS - OFFSET


def pyqtgraph_camera(
    elevation: float, azimuth: float, distance: float = 300.0, dpr: float = 1.0
) -> tuple[Camera, SimpleNamespace]:
    """The matrices pyqtgraph's GL view computes for these camera options (its own methods)."""
    view = SimpleNamespace(
        opts={
            "distance": distance,
            "fov": 60.0,
            "elevation": elevation,
            "azimuth": azimuth,
            "center": QVector3D(5.0, -3.0, 8.0),
            "rotationMethod": "euler",
        }
    )
    viewport = (0, 0, int(SIZE[0]), int(SIZE[1]))
    camera = Camera(
        view=from_column_major(GLViewMixin.viewMatrix(view).data()),
        projection=from_column_major(GLViewMixin.projectionMatrix(view, viewport, viewport).data()),
        size=SIZE,
        device_pixel_ratio=dpr,
        offset=OFFSET,
    )
    return camera, view


def test_the_centre_pixel_looks_from_the_camera_at_the_orbit_centre() -> None:
    camera, view = pyqtgraph_camera(elevation=10.0, azimuth=-90.0)
    origin, direction = pixel_ray(camera, SIZE[0] / 2, SIZE[1] / 2)
    eye = np.array(GLViewMixin.cameraPosition(view).toTuple()) + OFFSET
    centre = np.array([5.0, -3.0, 8.0]) + OFFSET
    np.testing.assert_allclose(direction, (centre - eye) / np.linalg.norm(centre - eye), atol=1e-6)  # float32 matrices
    assert np.linalg.norm(origin - eye) == pytest.approx(0.3, rel=1e-3)  # the near plane: distance x 0.001


@pytest.mark.parametrize("elevation, azimuth", [(10.0, -90.0), (35.0, 20.0), (-60.0, 200.0)])
def test_the_ray_through_a_points_pixel_passes_through_the_point(elevation, azimuth) -> None:
    camera, _ = pyqtgraph_camera(elevation, azimuth)
    points = OFFSET + np.array([[0.0, 0.0, 0.0], [30.0, -20.0, 45.0], [-50.0, 10.0, -25.0]])
    pixels, in_front = project_to_pixels(camera, points)
    assert in_front.all()
    for point, (x, y) in zip(points, pixels, strict=True):
        origin, direction = pixel_ray(camera, x, y)
        off_ray = (point - origin) - ((point - origin) @ direction) * direction
        assert np.linalg.norm(off_ray) < 1e-3  # mm; float32 matrices


def test_pixels_agree_with_qts_own_matrix_product() -> None:
    camera, view = pyqtgraph_camera(25.0, 40.0)
    point = np.array([20.0, 15.0, -10.0])
    ndc = (GLViewMixin.projectionMatrix(view, (0, 0, 640, 480), (0, 0, 640, 480)) * GLViewMixin.viewMatrix(view)).map(
        QVector3D(*point)
    )
    pixels, _ = project_to_pixels(camera, point + OFFSET)
    x, y = pixels[0]
    assert x == pytest.approx((ndc.x() + 1) / 2 * SIZE[0], abs=1e-3)
    assert y == pytest.approx((1 - ndc.y()) / 2 * SIZE[1], abs=1e-3)  # pixel rows grow downwards


def test_a_high_dpi_screen_gives_the_same_ray_for_the_same_logical_pixel() -> None:
    plain, _ = pyqtgraph_camera(15.0, 70.0)
    retina, _ = pyqtgraph_camera(15.0, 70.0, dpr=2.0)
    for a, b in zip(pixel_ray(plain, 100.0, 333.0), pixel_ray(retina, 100.0, 333.0), strict=True):
        np.testing.assert_allclose(a, b, atol=1e-9)


def test_a_point_behind_the_camera_is_not_in_front() -> None:
    camera, view = pyqtgraph_camera(0.0, 0.0)
    eye = np.array(GLViewMixin.cameraPosition(view).toTuple())
    centre = np.array([5.0, -3.0, 8.0])
    behind = eye + (eye - centre)
    _, in_front = project_to_pixels(camera, behind + OFFSET)
    assert not in_front[0]


def test_snapping_takes_the_nearest_usable_point_within_the_radius() -> None:
    pixels = np.array([[10.0, 10.0], [14.0, 10.0], [100.0, 100.0]])
    assert nearest_within(pixels, np.array([True, True, True]), 13.0, 10.0, 8.0) == 1
    assert nearest_within(pixels, np.array([True, False, True]), 13.0, 10.0, 8.0) == 0
    assert nearest_within(pixels, np.array([True, True, True]), 50.0, 50.0, 8.0) is None
    assert nearest_within(np.zeros((0, 2)), np.zeros(0, bool), 0.0, 0.0, 8.0) is None
