"""Surface deviation: the measure the other mesh tests trust must see a surface that is off."""

from __future__ import annotations

import numpy as np
import pytest
from mesh_factory import grid

from kneeseg_app.core.mesh import Mesh, bone_mesh, surface_deviation


@pytest.fixture(scope="module")
def box():
    labels = grid((24, 30, 30), (1.0, 0.8, 0.8))
    labels.array[6:18, 8:22, 8:22] = 1
    return labels, bone_mesh(labels, 1, target_triangles=None)


def test_a_mesh_on_the_boundary_deviates_by_a_fraction_of_a_voxel(box) -> None:
    labels, mesh = box
    deviation = surface_deviation(mesh, labels, 1)
    assert deviation.mean_mm < 0.3 and deviation.max_mm < 1.0
    assert abs(deviation.volume_error) < 0.01


def test_a_mesh_moved_by_two_millimetres_is_seen_two_millimetres_off(box) -> None:
    """Moved along x, the two faces across x are 2 mm off; the faces along x slide within themselves."""
    labels, mesh = box
    moved = Mesh(mesh.vertices + np.array([2.0, 0.0, 0.0], dtype=np.float32), mesh.faces, mesh.name)
    deviation = surface_deviation(moved, labels, 1)
    assert deviation.mean_mm > 0.5 and 1.9 < deviation.max_mm < 2.3
    assert abs(deviation.volume_error) < 0.01  # moving does not change the volume
