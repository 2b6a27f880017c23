"""The 3D view's surfaces are finished in the worker: decimated to the budget, normals included."""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.progress import no_progress
from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.controllers.surfaces import compute_meshes
from kneeseg_app.ui.state.display_mesh import DisplayMesh, triangles_per_bone


def test_each_bone_arrives_ready_to_draw_within_its_share_of_the_budget() -> None:
    z, y, x = np.indices((40, 60, 60))
    labels = np.where((x - 30) ** 2 + (y - 30) ** 2 + (z - 12) ** 2 < 10**2, 1, 0)
    labels = np.where((x - 30) ** 2 + (y - 30) ** 2 + (z - 29) ** 2 < 9**2, 2, labels).astype(np.uint8)
    meshes = compute_meshes(Volume(labels, (1.0, 0.8, 0.8)), {1: "femur", 2: "tibia"}, no_progress, None)
    assert set(meshes) == {"femur", "tibia"}
    for mesh in meshes.values():
        assert isinstance(mesh, DisplayMesh)
        assert len(mesh.faces) <= triangles_per_bone(2) * 1.05
        assert mesh.normals.shape == mesh.vertices.shape
        np.testing.assert_allclose(np.linalg.norm(mesh.normals, axis=1), 1.0, atol=1e-4)
