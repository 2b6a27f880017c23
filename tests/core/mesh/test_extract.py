"""Surface extraction: closed, outward surfaces in LPS millimetres on the true shape, whatever the grid."""

from __future__ import annotations

import numpy as np
import pytest
from mesh_factory import ELLIPSOID_RADII, assert_faithful, distance_to_true_ellipsoid, ellipsoid_labels, grid, rotation

from kneeseg_app.core.mesh import bone_mesh, bone_meshes


@pytest.mark.parametrize(
    "direction",
    [rotation(20, 10), rotation(-35, 0) @ np.diag([1.0, 1.0, -1.0])],
    ids=["oblique", "oblique-left-handed"],
)
def test_ellipsoid_on_an_oblique_anisotropic_grid_gives_a_closed_outward_surface_on_the_true_shape(
    direction: np.ndarray,
) -> None:
    labels = ellipsoid_labels(direction)
    mesh = bone_mesh(labels, 1, name="femur", target_triangles=None)

    assert mesh.is_watertight
    assert mesh.volume_ml > 0  # outward normals, whatever the handedness of the grid
    assert_faithful(mesh, labels, 1)
    # the full direction matrix is applied: vertices lie on the ellipsoid in patient space
    to_truth = distance_to_true_ellipsoid(mesh.vertices.astype(np.float64))
    assert to_truth.mean() < 0.3
    assert to_truth.max() < max(labels.spacing_zyx)
    true_volume_ml = 4 / 3 * np.pi * np.prod(ELLIPSOID_RADII) / 1000
    assert mesh.volume_ml == pytest.approx(true_volume_ml, rel=0.01)


def test_two_touching_bones_give_two_closed_surfaces_meeting_at_the_contact_plane() -> None:
    labels = grid((40, 50, 50), (1.0, 0.8, 0.8))
    array = labels.array
    array[20:36, 10:40, 10:40] = 1  # "femur" above
    array[5:20, 12:38, 12:38] = 2  # "tibia" below, touching over a whole face
    meshes = bone_meshes(labels, target_triangles=None)

    assert set(meshes) == {"femur", "tibia"}
    for name, value in (("femur", 1), ("tibia", 2)):
        assert meshes[name].is_watertight
        assert_faithful(meshes[name], labels, value)
    contact_z = labels.index_to_lps([19.5, 0, 0])[2]  # between the last tibia and first femur slice
    assert meshes["femur"].vertices[:, 2].min() >= contact_z - 0.05
    assert meshes["tibia"].vertices[:, 2].max() <= contact_z + 0.05


def test_a_bone_cut_by_the_edge_of_the_scan_is_closed_by_a_flat_cap_at_the_edge() -> None:
    labels = grid((30, 60, 60), (1.2, 0.7, 0.7))
    index = np.stack(np.meshgrid(*[np.arange(n) for n in labels.shape], indexing="ij"), axis=-1)
    radial = np.hypot((index[..., 1] - 30) * 0.7, (index[..., 2] - 28) * 0.7)
    labels.array[(radial <= 14) & (index[..., 0] >= 8)] = 1  # a shaft leaving the top of the scan
    mesh = bone_mesh(labels, 1, target_triangles=None)

    assert mesh.is_watertight
    assert_faithful(mesh, labels, 1)
    top_face_z = labels.index_to_lps([labels.shape[0] - 0.5, 0, 0])[2]
    assert mesh.vertices[:, 2].max() == pytest.approx(top_face_z, abs=0.05)
    on_cap = np.abs(mesh.vertices[:, 2] - top_face_z) < 0.05
    assert on_cap.sum() > 100  # a real cap, not a point
