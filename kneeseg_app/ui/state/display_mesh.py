"""Bone surfaces made ready for drawing, off the UI thread. Qt-free.

pyqtgraph computes a mesh's vertex normals the first time it is drawn, in a Python loop
over every vertex, on the UI thread: two bones of 30 000 vertices froze the window for
seconds (issue 14). Here the normals are computed in the surface worker, vectorised, and
the surfaces are decimated there to a triangle budget for the whole view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TRIANGLE_BUDGET = 120_000
"""Triangles drawn for all bones together: smooth on screen, light for software OpenGL."""
MIN_TRIANGLES_PER_BONE = 5_000


@dataclass(frozen=True)
class DisplayMesh:
    """One bone's surface as the 3D view draws it (LPS mm)."""

    vertices: np.ndarray  # (n, 3) float32
    faces: np.ndarray  # (m, 3) int32
    normals: np.ndarray  # (n, 3) float32, unit length (zero for an unused vertex)


def triangles_per_bone(n_bones: int, budget: int = TRIANGLE_BUDGET) -> int:
    """Each bone's share of the view's triangle budget."""
    return max(MIN_TRIANGLES_PER_BONE, budget // max(1, n_bones))


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted vertex normals: the sum of the adjacent faces' (unnormalised) normals, normalised."""
    v = np.asarray(vertices, dtype=np.float64)
    f = np.asarray(faces, dtype=np.int64)
    face_normals = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    sums = np.zeros_like(v)
    for corner in range(3):
        np.add.at(sums, f[:, corner], face_normals)
    length = np.linalg.norm(sums, axis=1, keepdims=True)
    return np.divide(sums, length, out=np.zeros_like(sums), where=length > 0).astype(np.float32)


def display_mesh(mesh) -> DisplayMesh:
    """``mesh`` (a core Mesh: vertices, faces) with its normals, in the types OpenGL takes."""
    vertices = np.ascontiguousarray(mesh.vertices, dtype=np.float32)
    faces = np.ascontiguousarray(mesh.faces, dtype=np.int32)
    return DisplayMesh(vertices, faces, vertex_normals(vertices, faces))
