"""The triangle surface of a bone (:class:`Mesh`) and the check that it is closed and manifold."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Mesh:
    """A triangle surface in LPS millimetres; faces counter-clockwise seen from outside."""

    vertices: np.ndarray
    """(N, 3) float32, LPS mm."""
    faces: np.ndarray
    """(M, 3) int32 indices into ``vertices``."""
    name: str = ""

    @property
    def n_triangles(self) -> int:
        return int(self.faces.shape[0])

    @property
    def volume_ml(self) -> float:
        """Enclosed volume (divergence theorem); positive when normals point outward."""
        v = self.vertices.astype(np.float64)[self.faces]
        return float(np.einsum("ij,ij->i", v[:, 0], np.cross(v[:, 1], v[:, 2])).sum() / 6.0 / 1000.0)

    @property
    def area_mm2(self) -> float:
        v = self.vertices.astype(np.float64)[self.faces]
        return float(np.linalg.norm(np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0]), axis=1).sum() / 2.0)

    area = area_mm2

    @property
    def is_watertight(self) -> bool:
        """Closed, 2-manifold (edges and vertices) and consistently oriented."""
        return is_closed_manifold(self.faces, len(self.vertices))

    def summary(self) -> str:
        return f"{self.name or 'mesh'}: {self.n_triangles} triangles, {self.volume_ml:.1f} ml, {self.area_mm2 / 100:.0f} cm2"


def is_closed_manifold(faces: np.ndarray, n_vertices: int) -> bool:
    """True when every edge joins exactly two faces that traverse it in opposite directions
    (closed, edge-manifold, consistently oriented) and every vertex has one fan of faces."""
    faces = np.asarray(faces, dtype=np.int64)
    if len(faces) == 0:
        return False
    starts = faces.ravel()
    ends = faces[:, [1, 2, 0]].ravel()
    keys = starts * n_vertices + ends
    order = np.argsort(keys)
    sorted_keys = keys[order]
    if np.any(sorted_keys[1:] == sorted_keys[:-1]):
        return False  # an edge used twice in the same direction
    twin_pos = np.searchsorted(sorted_keys, ends * n_vertices + starts)
    if np.any(twin_pos >= len(keys)) or np.any(
        sorted_keys[np.minimum(twin_pos, len(keys) - 1)] != ends * n_vertices + starts
    ):
        return False  # a border edge (hole)
    twin = order[twin_pos]
    return _vertices_have_single_fans(faces, starts, twin, n_vertices)


def _vertices_have_single_fans(faces: np.ndarray, starts: np.ndarray, twin: np.ndarray, n_vertices: int) -> bool:
    """Walk around each vertex (half-edge h -> twin(prev(h))) and check that one loop
    visits all half-edges leaving it (otherwise two surface sheets touch at the vertex)."""
    n_half = len(starts)
    prev = (np.arange(n_half) // 3) * 3 + (np.arange(n_half) % 3 + 2) % 3
    rotate = twin[prev]  # half-edge leaving the same vertex, in the next face around it
    out_degree = np.bincount(starts, minlength=n_vertices)
    used = np.flatnonzero(out_degree)
    first = np.full(n_vertices, -1, dtype=np.int64)
    first[starts[::-1]] = np.arange(n_half)[::-1]
    begin = first[used]
    current = rotate[begin]
    steps = np.ones(len(used), dtype=np.int64)
    open_walks = current != begin
    for _ in range(int(out_degree.max())):
        if not open_walks.any():
            break
        current[open_walks] = rotate[current[open_walks]]
        steps[open_walks] += 1
        open_walks &= current != begin
    return bool(np.all(steps == out_degree[used]) and not open_walks.any())
