"""The bone surface pipeline: one faithful, closed, decimated mesh per bone present, and its files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from mesh_factory import assert_faithful, grid

from kneeseg_app.core.errors import Cancelled, LabelMapError, OutputError
from kneeseg_app.core.mesh import bone_meshes, export_meshes
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.progress import CancelToken
from kneeseg_app.core.volume import DicomFacts


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
