"""Bone surface meshes: closed, outward, in LPS millimetres, faithful to the label map.

Accuracy is measured against the label map's boundary, defined as the 0.5 iso-surface of
the binary mask (linearly interpolated: through the mid-points between bone voxel centres
and their non-bone neighbours), both ways; targets: mean under 0.3 mm, maximum under the
largest voxel size, enclosed volume within 1% of (voxel count x voxel volume).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh

from kneeseg_app.core.errors import Cancelled, LabelMapError, OutputError
from kneeseg_app.core.mesh import (
    SPACE_TAG,
    Mesh,
    bone_mesh,
    bone_meshes,
    export_meshes,
    is_closed_manifold,
    surface_deviation,
    write_mesh,
)
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.progress import CancelToken
from kneeseg_app.core.volume import DicomFacts, Volume


# ----------------------------------------------------------------------------------------
# analytic label maps
# ----------------------------------------------------------------------------------------
def rotation(z_deg: float, x_deg: float) -> np.ndarray:
    a, b = np.radians(z_deg), np.radians(x_deg)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


def grid(shape, spacing_zyx, direction=np.eye(3), origin=(0.0, 0.0, 0.0)) -> Volume:
    return Volume(np.zeros(shape, np.uint8), spacing_zyx, origin_xyz=origin, direction=direction)


def voxel_centres_lps(volume: Volume) -> np.ndarray:
    index = np.stack(np.meshgrid(*[np.arange(n) for n in volume.shape], indexing="ij"), axis=-1)
    return volume.index_to_lps(index)


ELLIPSOID_CENTRE = np.array([5.0, -12.0, 30.0])
ELLIPSOID_RADII = np.array([26.0, 18.0, 22.0])


def ellipsoid_labels(direction: np.ndarray, spacing_zyx=(1.4, 0.7, 0.6)) -> Volume:
    """An ellipsoid defined in patient (LPS) space, voxelised on a possibly oblique grid."""
    shape = (52, 104, 118)
    volume = grid(shape, spacing_zyx, direction)
    centre_index = (np.array(shape) - 1) / 2
    volume.origin_xyz = tuple(ELLIPSOID_CENTRE - (volume.index_to_lps(centre_index) - np.asarray(volume.origin_xyz)))
    q = (voxel_centres_lps(volume) - ELLIPSOID_CENTRE) / ELLIPSOID_RADII
    return volume.with_array(((q**2).sum(axis=-1) <= 1).astype(np.uint8))


def distance_to_true_ellipsoid(points: np.ndarray) -> np.ndarray:
    """First-order distance |g| / |grad g| to the analytic surface (accurate near it)."""
    q = (points - ELLIPSOID_CENTRE) / ELLIPSOID_RADII
    g = (q**2).sum(axis=1) - 1
    return np.abs(g) / np.linalg.norm(2 * q / ELLIPSOID_RADII, axis=1)


def assert_faithful(mesh: Mesh, labels: Volume, value: int) -> None:
    deviation = surface_deviation(mesh, labels, value)
    assert deviation.mean_mm < 0.3, deviation
    assert deviation.max_mm < max(labels.spacing_zyx), deviation
    assert abs(deviation.volume_error) < 0.01, deviation


# ----------------------------------------------------------------------------------------
# geometry and topology
# ----------------------------------------------------------------------------------------
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


def test_phantom_knee_bones_are_faithful_closed_and_decimated_to_the_target() -> None:
    labels = generate_phantom(3, shape_zyx=(64, 160, 160), spacing_zyx=(1.5, 0.8, 0.8)).labels
    meshes = bone_meshes(labels, target_triangles=40_000)

    assert set(meshes) == {"femur", "tibia"}
    for name, value in (("femur", 1), ("tibia", 2)):
        mesh = meshes[name]
        assert mesh.is_watertight
        assert 30_000 <= mesh.n_triangles <= 40_000
        assert mesh.vertices.dtype == np.float32 and mesh.faces.dtype == np.int32
        assert_faithful(mesh, labels, value)


def test_meshes_leave_out_absent_bones_and_refuse_an_empty_label_map() -> None:
    labels = grid((20, 30, 30), (1.0, 1.0, 1.0))
    labels.array[5:15, 5:25, 5:25] = 2
    assert set(bone_meshes(labels, target_triangles=None)) == {"tibia"}
    with pytest.raises(LabelMapError, match="no femur or tibia voxels"):
        bone_meshes(labels.with_array(np.zeros_like(labels.array)))


def test_a_bone_too_small_for_a_surface_is_reported_not_returned_empty() -> None:
    labels = grid((10, 10, 10), (1.0, 1.0, 1.0))
    labels.array[5, 5, 5] = 1  # one voxel: the smoothed surface vanishes
    with pytest.raises(LabelMapError, match="too few voxels"):
        bone_meshes(labels)


def test_meshing_reports_progress_and_stops_when_cancelled() -> None:
    labels = grid((20, 30, 30), (1.0, 1.0, 1.0))
    labels.array[5:15, 5:25, 5:25] = 1
    seen: list[float] = []
    bone_meshes(labels, progress=lambda stage, fraction: seen.append(fraction))
    assert seen[-1] == 1.0 and seen == sorted(seen)
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        bone_meshes(labels, cancel=token)


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


# ----------------------------------------------------------------------------------------
# files
# ----------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_bone() -> Mesh:
    labels = ellipsoid_labels(rotation(20, 10))
    return bone_mesh(labels, 1, name="femur", target_triangles=5_000)


def test_binary_stl_reads_back_closed_with_every_triangle_and_says_lps(small_bone: Mesh, tmp_path: Path) -> None:
    path = write_mesh(small_bone, tmp_path / "femur.stl")
    header = path.read_bytes()[:80]
    assert SPACE_TAG.encode() in header and not header.startswith(b"solid")  # Slicer: LPS, binary
    loaded = trimesh.load(path)
    assert len(loaded.faces) == small_bone.n_triangles
    assert loaded.is_watertight and loaded.is_winding_consistent
    assert loaded.volume / 1000 == pytest.approx(small_bone.volume_ml, rel=1e-4)


@pytest.mark.parametrize("suffix", [".obj", ".ply"])
def test_obj_and_ply_read_back_with_the_same_vertices_and_faces(small_bone: Mesh, tmp_path: Path, suffix: str) -> None:
    path = write_mesh(small_bone, tmp_path / f"femur{suffix}")
    loaded = trimesh.load(path, process=False)
    assert np.array_equal(np.asarray(loaded.faces), small_bone.faces)
    assert np.allclose(loaded.vertices, small_bone.vertices, atol=1e-5)
    assert SPACE_TAG in path.read_bytes()[:200].decode("ascii", "replace")


def test_mesh_writing_refuses_the_input_folder_and_unknown_formats(small_bone: Mesh, tmp_path: Path) -> None:
    dicom_folder = tmp_path / "ct"
    dicom_folder.mkdir()
    with pytest.raises(OutputError, match="input folder"):
        write_mesh(small_bone, dicom_folder / "femur.stl", protected=[dicom_folder])
    with pytest.raises(OutputError, match=r"\.stl, \.obj or \.ply"):
        write_mesh(small_bone, tmp_path / "femur.step")
    assert not list(dicom_folder.iterdir())


def test_export_writes_one_file_per_bone_and_never_into_the_ct_folder(tmp_path: Path) -> None:
    ct_folder = tmp_path / "ct"
    ct_folder.mkdir()
    labels = grid((20, 30, 30), (1.0, 1.0, 1.0))
    labels.dicom = DicomFacts(files=(str(ct_folder / "IM0001.dcm"),))
    labels.array[2:10, 5:25, 5:25] = 2
    labels.array[10:18, 5:25, 5:25] = 1
    written = export_meshes(labels, tmp_path / "out", fmt="stl")
    assert sorted(p.name for p in written) == ["femur.stl", "tibia.stl"]
    assert all(trimesh.load(p).is_watertight for p in written)
    with pytest.raises(OutputError, match="input folder"):
        export_meshes(labels, ct_folder / "meshes", fmt="ply")
    assert not list(ct_folder.iterdir())
