"""Picking a surface point under the mouse: the nearest crossing of a ray with a mesh."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.mesh.pick import pick_surface_point, ray_hit_distance


def cube(half: float = 10.0, centre=(0.0, 0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
    """An axis-aligned cube of 12 triangles."""
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) * half
    faces = np.array(
        [
            [0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5],  # x = -h, x = +h
            [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],  # y = -h, y = +h
            [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3],  # z = -h, z = +h
        ]
    )  # fmt: skip
    return corners + np.asarray(centre), faces


def sphere(radius: float, n: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """A UV sphere (poles included) centred at the origin."""
    theta = np.linspace(0, np.pi, n)
    phi = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
    t, p = np.meshgrid(theta, phi, indexing="ij")
    vertices = radius * np.stack([np.sin(t) * np.cos(p), np.sin(t) * np.sin(p), np.cos(t)], axis=-1).reshape(-1, 3)
    faces = []
    m = 2 * n
    for i in range(n - 1):
        for j in range(m):
            a, b = i * m + j, i * m + (j + 1) % m
            faces += [[a, a + m, b + m], [a, b + m, b]]
    return vertices, np.asarray(faces)


def test_a_ray_into_a_cube_hits_the_near_face_not_the_far_one() -> None:
    vertices, faces = cube(10.0)
    point = pick_surface_point(np.array([3.0, -50.0, 2.0]), np.array([0.0, 1.0, 0.0]), vertices, faces)
    np.testing.assert_allclose(point, [3.0, -10.0, 2.0], atol=1e-9)
    # from the other side the other face is the near one
    point = pick_surface_point(np.array([3.0, 50.0, 2.0]), np.array([0.0, -2.0, 0.0]), vertices, faces)
    np.testing.assert_allclose(point, [3.0, 10.0, 2.0], atol=1e-9)


def test_a_ray_that_passes_beside_or_points_away_misses() -> None:
    vertices, faces = cube(10.0)
    assert pick_surface_point(np.array([30.0, -50.0, 0.0]), np.array([0.0, 1.0, 0.0]), vertices, faces) is None
    assert pick_surface_point(np.array([0.0, -50.0, 0.0]), np.array([0.0, -1.0, 0.0]), vertices, faces) is None
    assert pick_surface_point(np.zeros(3), np.zeros(3), vertices, faces) is None
    assert pick_surface_point(np.zeros(3), np.array([1.0, 0, 0]), vertices, np.zeros((0, 3), int)) is None


def test_an_oblique_ray_hits_a_sphere_where_the_analytic_intersection_lies() -> None:
    radius = 25.0
    vertices, faces = sphere(radius)
    origin = np.array([40.0, -90.0, 30.0])
    direction = np.array([-0.3, 1.0, -0.25])
    point = pick_surface_point(origin, direction, vertices, faces)
    d = direction / np.linalg.norm(direction)
    b = origin @ d
    exact = origin + (-b - np.sqrt(b * b - (origin @ origin - radius**2))) * d  # the nearer root
    assert point is not None
    assert np.linalg.norm(point - exact) < 0.2  # the facets' chord error of a 48-ring sphere
    assert abs(np.linalg.norm(point) - radius) < 0.2


def test_from_inside_a_closed_surface_the_ray_hits_the_wall_in_front() -> None:
    vertices, faces = cube(10.0, centre=(5.0, 0.0, 0.0))
    assert ray_hit_distance(np.array([5.0, 0.0, 0.0]), np.array([1.0, 0.0, 0.0]), vertices, faces) == pytest.approx(
        10.0
    )
