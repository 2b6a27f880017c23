"""Surface extraction: a bone's voxels to a closed, outward triangle surface in LPS millimetres.

The mask is cropped with an empty border (a bone cut by the scan's edge still closes),
blurred a little (no voxel staircase, the same 0.5 level on flat walls), and its 0.5
iso-surface extracted by marching tetrahedra, which has no ambiguous cases: the surface is
always closed, 2-manifold and consistently oriented.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage

from kneeseg_app.core.volume import Volume


def crop_with_border(mask: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """The mask's bounding box with ``pad`` empty voxels on every side, and its offset.

    The empty border closes surfaces of bones that touch the edge of the scan.
    """
    nz = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3)]
    lo = np.array([n[0] for n in nz])
    hi = np.array([n[-1] + 1 for n in nz])
    core = mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    return np.pad(core, pad, mode="constant"), (lo - pad).astype(np.float64)


def blurred_field(mask: np.ndarray, sigma_voxels: tuple[float, float, float]) -> np.ndarray:
    """Gaussian-blurred mask (float32): smooth iso-surfaces, same 0.5 level on flat walls."""
    field = mask.astype(np.float32)
    if max(sigma_voxels) > 0:
        ndimage.gaussian_filter(field, sigma_voxels, output=field, mode="constant", truncate=3.0)
    return field


# Cube corner c has offset (c>>2 & 1, c>>1 & 1, c & 1) in (z, y, x).
_CORNER_OFFSETS = np.array([[(c >> 2) & 1, (c >> 1) & 1, c & 1] for c in range(8)], dtype=np.int64)


def _kuhn_tetrahedra() -> tuple[np.ndarray, np.ndarray]:
    """The 6 tetrahedra sharing the cube's main diagonal (same face diagonals in every
    cube, so neighbouring cubes' tetrahedra meet face to face) and their orientation sign."""
    tets, signs = [], []
    for perm in itertools.permutations(range(3)):
        steps = [np.eye(3, dtype=np.int64)[p] for p in perm]
        points = [np.zeros(3, dtype=np.int64)]
        for step in steps:
            points.append(points[-1] + step)
        tets.append([int(p[0] * 4 + p[1] * 2 + p[2]) for p in points])
        signs.append(int(round(np.linalg.det(np.array(steps, dtype=float)))))
    return np.array(tets, dtype=np.int64), np.array(signs, dtype=np.int64)


def _tetrahedron_cases() -> tuple[np.ndarray, np.ndarray]:
    """For each of the 16 inside/outside patterns of a tetrahedron's 4 vertices: up to two
    triangles, each given as 3 edges (i, j) with i < j, oriented so that the normal points
    from the inside vertices to the outside ones in a positively oriented tetrahedron."""
    ref = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)  # det > 0
    triangles = np.zeros((16, 2, 3, 2), dtype=np.int64)
    counts = np.zeros(16, dtype=np.int64)
    for case in range(16):
        inside = [k for k in range(4) if case >> k & 1]
        outside = [k for k in range(4) if not case >> k & 1]
        if len(inside) in (1, 3):
            lone, others = (inside[0], outside) if len(inside) == 1 else (outside[0], inside)
            tris = [[(lone, o) for o in others]]
        elif len(inside) == 2:
            (a, b), (c, d) = inside, outside
            tris = [[(a, c), (a, d), (b, d)], [(a, c), (b, d), (b, c)]]
        else:
            tris = []
        for slot, tri in enumerate(tris):
            tri = [tuple(sorted(edge)) for edge in tri]
            pts = np.array([(ref[i] + ref[j]) / 2 for i, j in tri])
            normal = np.cross(pts[1] - pts[0], pts[2] - pts[0])
            towards_out = ref[outside].mean(axis=0) - ref[inside].mean(axis=0)
            if normal @ towards_out < 0:
                tri = [tri[0], tri[2], tri[1]]
            triangles[case, slot] = tri
        counts[case] = len(tris)
    return triangles, counts


_TETS, _TET_SIGNS = _kuhn_tetrahedra()
_CASE_TRIANGLES, _CASE_COUNTS = _tetrahedron_cases()


def marching_tetrahedra(field: np.ndarray, iso: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``field == iso`` surface as (vertices (N,3) float64 in continuous (z,y,x) index,
    faces (M,3) int64), normals pointing from ``field > iso`` to ``field <= iso``.

    Marching tetrahedra has no ambiguous configurations, so for a field that is below
    ``iso`` on its whole border the surface is closed and 2-manifold. Only cells that
    straddle the level are visited.
    """
    inside = field > iso
    if not inside.any() or inside.all():
        return np.zeros((0, 3)), np.zeros((0, 3), dtype=np.int64)
    nz, ny, nx = field.shape
    corner_views = [inside[oz : oz + nz - 1, oy : oy + ny - 1, ox : ox + nx - 1] for oz, oy, ox in _CORNER_OFFSETS]
    any_in = np.logical_or.reduce(corner_views)
    all_in = np.logical_and.reduce(corner_views)
    cz, cy, cx = np.nonzero(any_in & ~all_in)
    del any_in, all_in, corner_views
    cells = np.stack([cz, cy, cx], axis=1)
    corners = cells[:, None, :] + _CORNER_OFFSETS[None]  # (N, 8, 3)
    corner_in = inside[corners[..., 0], corners[..., 1], corners[..., 2]]  # (N, 8)
    cases = (corner_in[:, _TETS] * np.array([1, 2, 4, 8])).sum(axis=-1)  # (N, 6)

    edge_ids = []
    for slot in range(2):
        cell_idx, tet_idx = np.nonzero(_CASE_COUNTS[cases] > slot)
        local = _CASE_TRIANGLES[cases[cell_idx, tet_idx], slot]  # (M, 3, 2) tet-local vertices
        cube_corner = _TETS[tet_idx][np.arange(len(tet_idx))[:, None, None], local]  # (M, 3, 2)
        base = cells[cell_idx][:, None, :] + _CORNER_OFFSETS[cube_corner[..., 0]]  # (M, 3, 3)
        direction_code = cube_corner[..., 1] - cube_corner[..., 0]  # 1..7, bits = (dz, dy, dx)
        linear = np.ravel_multi_index((base[..., 0], base[..., 1], base[..., 2]), field.shape)
        ids = linear * 8 + direction_code
        flip = _TET_SIGNS[tet_idx] < 0
        ids[flip] = ids[flip][:, [0, 2, 1]]
        edge_ids.append(ids)
    all_ids = np.concatenate(edge_ids)
    unique_ids, faces = np.unique(all_ids, return_inverse=True)
    faces = faces.reshape(-1, 3)
    start = np.stack(np.unravel_index(unique_ids >> 3, field.shape), axis=1)
    step = _CORNER_OFFSETS[unique_ids & 7]
    end = start + step
    f0 = field[start[:, 0], start[:, 1], start[:, 2]].astype(np.float64)
    f1 = field[end[:, 0], end[:, 1], end[:, 2]].astype(np.float64)
    t = np.clip((iso - f0) / (f1 - f0), 0.0, 1.0)
    vertices = start + t[:, None] * step
    return vertices, faces.astype(np.int64)


def index_to_patient(labels: Volume, verts_zyx: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Continuous (z,y,x) indices to LPS mm with the full direction matrix, keeping the
    normals outward (an index-to-patient map with negative determinant mirrors them)."""
    vertices = labels.index_to_lps(verts_zyx)
    zyx_to_xyz = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=float)
    jacobian = labels.direction @ np.diag(labels.spacing_xyz) @ zyx_to_xyz
    if np.linalg.det(jacobian) < 0:
        faces = faces[:, [0, 2, 1]]
    return vertices, faces
