"""Surfaces made ready for drawing in the worker: normals as pyqtgraph would compute them, a budget."""

from __future__ import annotations

import numpy as np

from kneeseg_app.ui.state.display_mesh import (
    MIN_TRIANGLES_PER_BONE,
    TRIANGLE_BUDGET,
    display_mesh,
    triangles_per_bone,
    vertex_normals,
)


def octahedron() -> tuple[np.ndarray, np.ndarray]:
    vertices = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
    faces = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]], np.int32)
    return vertices, faces


def test_the_normals_of_a_closed_convex_surface_point_outwards_with_unit_length() -> None:
    vertices, faces = octahedron()
    normals = vertex_normals(vertices, faces)
    np.testing.assert_allclose(normals, vertices, atol=1e-6)  # each vertex's normal is its own direction


def test_an_unused_vertex_gets_a_zero_normal_not_nan() -> None:
    vertices, faces = octahedron()
    normals = vertex_normals(np.vstack([vertices, [[5, 5, 5]]]), faces)
    assert np.all(np.isfinite(normals)) and not normals[-1].any()


def test_the_display_mesh_has_the_types_opengl_takes() -> None:
    class Mesh:
        vertices, faces = octahedron()

    mesh = display_mesh(Mesh())
    assert (mesh.vertices.dtype, mesh.faces.dtype, mesh.normals.dtype) == (np.float32, np.int32, np.float32)


def test_the_triangle_budget_is_shared_by_the_bones() -> None:
    assert triangles_per_bone(2) == TRIANGLE_BUDGET // 2
    assert triangles_per_bone(4) * 4 <= TRIANGLE_BUDGET
    assert triangles_per_bone(1000) == MIN_TRIANGLES_PER_BONE
