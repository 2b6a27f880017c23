"""Mesh files: STL, OBJ and PLY read back by another library (trimesh) as written, tagged LPS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import trimesh
from mesh_factory import ellipsoid_labels, rotation

from kneeseg_app.core.errors import OutputError
from kneeseg_app.core.mesh import SPACE_TAG, Mesh, bone_mesh, write_mesh


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
