"""Surface clean-up: Taubin smoothing (no shrinking) and decimation that keeps the surface closed."""

from __future__ import annotations

import threading

import fast_simplification
import numpy as np
from scipy import sparse

from kneeseg_app.core.mesh.surface import is_closed_manifold

_DECIMATION_LOCK = threading.Lock()  # fast-simplification keeps its mesh in C globals


def taubin_smooth(
    vertices: np.ndarray, faces: np.ndarray, iterations: int, lam: float = 0.5, mu: float = -0.53
) -> np.ndarray:
    """Taubin's lambda/mu low-pass filter: removes voxel ripples without shrinking the surface."""
    if iterations <= 0 or len(faces) == 0:
        return vertices
    n = len(vertices)
    edges = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    adjacency = sparse.coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    adjacency = ((adjacency + adjacency.T) > 0).astype(np.float64)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    mean_of_neighbours = sparse.diags(1.0 / np.maximum(degree, 1)) @ adjacency
    x = vertices.astype(np.float64, copy=True)
    for _ in range(iterations):
        x += lam * (mean_of_neighbours @ x - x)
        x += mu * (mean_of_neighbours @ x - x)
    return x


def decimate(vertices: np.ndarray, faces: np.ndarray, target_triangles: int) -> tuple[np.ndarray, np.ndarray]:
    """Quadric-error decimation (fast-simplification) to about ``target_triangles``.

    A result that is not closed and manifold is never returned: a second try keeps 50%
    more triangles, and if that fails too the full-resolution surface is kept.
    """
    for target in (target_triangles, int(target_triangles * 1.5)):
        if target >= len(faces):
            break
        with _DECIMATION_LOCK:
            points, tris = fast_simplification.simplify(
                np.ascontiguousarray(vertices, dtype=np.float64),
                np.ascontiguousarray(faces, dtype=np.int32),
                target_count=int(target),
            )
        points, tris = _drop_unused_vertices(np.asarray(points), np.asarray(tris, dtype=np.int64))
        tris = _drop_degenerate_faces(tris)
        if is_closed_manifold(tris, len(points)):
            return points, tris
    return vertices, faces


def _drop_unused_vertices(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    used, remap = np.unique(faces, return_inverse=True)
    return vertices[used], remap.reshape(faces.shape)


def _drop_degenerate_faces(faces: np.ndarray) -> np.ndarray:
    ok = (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])
    return faces[ok]
