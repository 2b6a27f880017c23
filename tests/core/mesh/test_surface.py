"""The Mesh type: enclosed volume, and the check that tells closed manifold surfaces from broken ones."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.mesh import Mesh, is_closed_manifold


def _tetrahedron(offset: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    vertices = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float) + offset
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    return vertices, faces


def test_topology_check_tells_closed_manifold_surfaces_from_broken_ones() -> None:
    vertices, faces = _tetrahedron()
    assert is_closed_manifold(faces, 4)
    assert Mesh(vertices.astype(np.float32), faces.astype(np.int32)).volume_ml == pytest.approx(1 / 6 / 1000)
    assert not is_closed_manifold(faces[:3], 4)  # a hole
    assert not is_closed_manifold(np.vstack([faces[:3], faces[3, ::-1]]), 4)  # one face flipped
    # two tetrahedra touching at a single vertex: closed, but not a manifold there
    second = np.array([[0, 5, 4], [0, 4, 6], [0, 6, 5], [4, 5, 6]])
    assert not is_closed_manifold(np.vstack([faces, second]), 7)
