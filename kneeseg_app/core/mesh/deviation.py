"""How far a mesh lies from the label map's boundary: exact point-to-triangle distances, both ways."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from kneeseg_app.core.mesh.extract import crop_with_border, index_to_patient, marching_tetrahedra
from kneeseg_app.core.mesh.surface import Mesh
from kneeseg_app.core.volume import Volume


@dataclass(frozen=True)
class SurfaceDeviation:
    """Distances (mm) between a mesh and the label map's boundary, both directions."""

    mean_mm: float
    max_mm: float
    volume_mesh_ml: float
    volume_labels_ml: float

    @property
    def volume_error(self) -> float:
        """Relative volume difference (mesh - labels) / labels."""
        return (self.volume_mesh_ml - self.volume_labels_ml) / self.volume_labels_ml


def surface_deviation(mesh: Mesh, labels: Volume, value: int) -> SurfaceDeviation:
    """How far ``mesh`` lies from the boundary of the voxels equal to ``value``.

    The boundary is the 0.5 iso-surface of the binary mask, linearly interpolated
    (through the mid-points between bone voxel centres and their non-bone neighbours).
    Distances are exact point-to-triangle distances, taken both ways (mesh vertices to
    the boundary, boundary vertices to the mesh); mean over all those points, and max.
    """
    mask = labels.array == value
    crop, offset = crop_with_border(mask, 2)
    ref_zyx, ref_faces = marching_tetrahedra(crop.astype(np.float32), 0.5)
    ref_vertices, ref_faces = index_to_patient(labels, ref_zyx + offset, ref_faces)
    mesh_vertices = mesh.vertices.astype(np.float64)
    to_ref = _points_to_surface(mesh_vertices, ref_vertices, ref_faces)
    to_mesh = _points_to_surface(ref_vertices, mesh_vertices, mesh.faces)
    both = np.concatenate([to_ref, to_mesh])
    return SurfaceDeviation(
        mean_mm=float(both.mean()),
        max_mm=float(both.max()),
        volume_mesh_ml=mesh.volume_ml,
        volume_labels_ml=float(np.count_nonzero(mask)) * labels.voxel_volume_ml,
    )


def _points_to_surface(points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, k: int = 16) -> np.ndarray:
    """Distance from each point to a triangle surface.

    Candidate triangles are those owning the ``k`` sample points nearest to the query,
    where every triangle is sampled densely enough (spacing no larger than its typical
    edge) that a large flat triangle is found as surely as a small one; the distance to
    each candidate is exact. A missed triangle can only over-estimate the distance.
    """
    tri = vertices[faces]
    samples, owner = _sample_triangles(tri)
    tree = cKDTree(samples)
    k = min(k, len(samples))
    _, nearest = tree.query(points, k=k)
    candidates = owner[np.asarray(nearest).reshape(len(points), k)]
    best = np.full(len(points), np.inf)
    for column in range(k):
        t = tri[candidates[:, column]]
        best = np.minimum(best, _point_triangle_distance(points, t[:, 0], t[:, 1], t[:, 2]))
    return best


def _sample_triangles(tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points on every triangle (a barycentric grid; spacing <= the median edge length)
    and the index of the triangle each point lies on."""
    edges = np.linalg.norm(tri[:, [1, 2, 0]] - tri, axis=2).max(axis=1)
    spacing = max(float(np.median(edges)), 1e-6)
    divisions = np.maximum(1, np.ceil(edges / spacing).astype(np.int64))
    samples, owners = [], []
    for n in np.unique(divisions):
        which = np.flatnonzero(divisions == n)
        i, j = np.meshgrid(np.arange(n + 1), np.arange(n + 1), indexing="ij")
        keep = i + j <= n
        u, v = i[keep] / n, j[keep] / n
        t = tri[which]
        pts = (
            t[:, None, 0]
            + u[None, :, None] * (t[:, None, 1] - t[:, None, 0])
            + v[None, :, None] * (t[:, None, 2] - t[:, None, 0])
        )
        samples.append(pts.reshape(-1, 3))
        owners.append(np.repeat(which, len(u)))
    return np.concatenate(samples), np.concatenate(owners)


def _point_triangle_distance(p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Exact distance from points to triangles (Ericson, Real-Time Collision Detection 5.1.5)."""
    ab, ac, ap = b - a, c - a, p - a
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    bp = p - b
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    cp = p - c
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v_in = vb / denom
        w_in = vc / denom
        closest = a + v_in[:, None] * ab + w_in[:, None] * ac  # inside the face
        # edges
        t_ab = d1 / (d1 - d3)
        t_ac = d2 / (d2 - d6)
        t_bc = (d4 - d3) / ((d4 - d3) + (d5 - d6))
    conditions = [
        (d1 <= 0) & (d2 <= 0),
        (d3 >= 0) & (d4 <= d3),
        (d6 >= 0) & (d5 <= d6),
        (vc <= 0) & (d1 >= 0) & (d3 <= 0),
        (vb <= 0) & (d2 >= 0) & (d6 <= 0),
        (va <= 0) & ((d4 - d3) >= 0) & ((d5 - d6) >= 0),
    ]
    choices = [
        a,
        b,
        c,
        a + t_ab[:, None] * ab,
        a + t_ac[:, None] * ac,
        b + t_bc[:, None] * (c - b),
    ]
    for condition, choice in reversed(list(zip(conditions, choices))):
        closest = np.where(condition[:, None], choice, closest)
    # np.where applies the last-listed (first) condition last, giving Ericson's priority order
    closest = np.nan_to_num(closest, nan=0.0)
    return np.linalg.norm(p - closest, axis=1)


def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", u, v)
