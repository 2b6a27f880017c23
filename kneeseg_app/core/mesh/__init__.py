"""Closed, smooth bone surface meshes from a label map, for prosthesis design (CAD) tools.

Pipeline per bone (all numpy/scipy, plus ``fast-simplification`` for decimation):

1. crop the bone's voxels to their bounding box with an empty border, so a bone cut by
   the edge of the scan still gives a closed surface (a flat cap at the cut);
2. blur the binary mask a little (Gaussian, ``sigma`` in voxels per axis) to remove the
   staircase of the voxel grid without moving the 0.5 level on flat walls;
3. extract the 0.5 iso-surface with marching tetrahedra: it has no ambiguous cases, so the
   surface is always closed, 2-manifold and consistently oriented (outward normals);
4. Taubin lambda/mu smoothing (a low-pass filter that does not shrink the bone, unlike
   plain Laplacian smoothing);
5. quadric-error decimation to ``target_triangles`` (a size a CAD tool opens quickly),
   kept only when the result is still closed and manifold.

Coordinates: **LPS, millimetres** (DICOM patient coordinates), the full direction matrix
of the image applied. This is what 3D Slicer (>= 4.11) writes and expects by default; the
files say so in their header (``SPACE=LPS``, Slicer's own tag), so Slicer overlays the
meshes on the CT without any flip. Faces are counter-clockwise seen from outside.

Accuracy reference (see :func:`surface_deviation`): the label map's boundary is the 0.5
iso-surface of the *binary* mask, linearly interpolated, i.e. the surface through the
mid-points between each bone voxel centre and its non-bone neighbours.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import fast_simplification
import numpy as np
from scipy import ndimage, sparse
from scipy.spatial import cKDTree

from kneeseg_app.core.atomic import ensure_not_inside, write_atomic
from kneeseg_app.core.errors import LabelMapError, OutputError
from kneeseg_app.core.labels import LABEL_NAMES
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress, scaled
from kneeseg_app.core.volume import Volume

MESH_FORMATS = ("stl", "obj", "ply")
SPACE_TAG = "SPACE=LPS"
"""Coordinate system tag read by 3D Slicer from STL/OBJ/PLY headers and comments."""

DEFAULT_SMOOTHING_ITERATIONS = 20
DEFAULT_TARGET_TRIANGLES = 100_000
DEFAULT_BLUR_VOXELS = 0.5

_DECIMATION_LOCK = threading.Lock()  # fast-simplification keeps its mesh in C globals


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


# ----------------------------------------------------------------------------------------
# public API
# ----------------------------------------------------------------------------------------
def bone_meshes(
    labels: Volume,
    labels_map: Mapping[int, str] | None = None,
    *,
    smoothing_iterations: int = DEFAULT_SMOOTHING_ITERATIONS,
    target_triangles: int | None = DEFAULT_TARGET_TRIANGLES,
    blur_voxels: float = DEFAULT_BLUR_VOXELS,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> dict[str, Mesh]:
    """One closed surface per bone present in ``labels`` (absent bones are left out).

    ``target_triangles=None`` keeps the full-resolution surface.
    Raises :class:`LabelMapError` when none of the bones has a voxel.
    """
    labels_map = dict(LABEL_NAMES if labels_map is None else labels_map)
    present = [(value, name) for value, name in labels_map.items() if np.any(labels.array == value)]
    if not present:
        names = " or ".join(labels_map.values())
        raise LabelMapError(f"The label map holds no {names} voxels, so there is no bone surface to export.")
    meshes: dict[str, Mesh] = {}
    for index, (value, name) in enumerate(present):
        step = scaled(progress, index / len(present), (index + 1) / len(present))
        meshes[name] = bone_mesh(
            labels,
            value,
            name=name,
            smoothing_iterations=smoothing_iterations,
            target_triangles=target_triangles,
            blur_voxels=blur_voxels,
            progress=step,
            cancel=cancel,
        )
    progress("Bone surfaces ready", 1.0)
    return meshes


def bone_mesh(
    labels: Volume,
    value: int,
    *,
    name: str = "",
    smoothing_iterations: int = DEFAULT_SMOOTHING_ITERATIONS,
    target_triangles: int | None = DEFAULT_TARGET_TRIANGLES,
    blur_voxels: float = DEFAULT_BLUR_VOXELS,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> Mesh:
    """The closed surface of the voxels equal to ``value`` (see the module docstring)."""
    label = name or f"label {value}"
    progress(f"Extracting the {label} surface", 0.0)
    mask = labels.array == value
    if not mask.any():
        raise LabelMapError(f"The label map has no {label} voxels.")
    sigma = (blur_voxels,) * 3  # in voxels: the staircase to remove is one voxel high on each axis
    pad = 2 + int(math.ceil(3 * blur_voxels))
    crop, offset = _crop_with_border(mask, pad)
    del mask
    field = _blurred_field(crop, sigma)
    _check_cancel(cancel)
    verts_zyx, faces = marching_tetrahedra(field, 0.5)
    del field, crop
    if len(faces) == 0:
        raise LabelMapError(f"The {label} holds too few voxels to form a surface; check the segmentation.")
    _check_cancel(cancel)
    vertices, faces = _index_to_patient(labels, verts_zyx + offset, faces)
    progress(f"Smoothing the {label} surface", 0.4)
    vertices = taubin_smooth(vertices, faces, smoothing_iterations)
    _check_cancel(cancel)
    if target_triangles is not None and len(faces) > target_triangles:
        progress(f"Simplifying the {label} surface", 0.7)
        vertices, faces = decimate(vertices, faces, target_triangles)
    progress(f"The {label} surface is ready", 1.0)
    return Mesh(vertices.astype(np.float32), faces.astype(np.int32), name=name)


def write_mesh(
    mesh: Mesh,
    path: str | Path,
    *,
    overwrite: bool = True,
    protected: Sequence[str | Path] = (),
) -> Path:
    """Write ``mesh`` atomically as binary STL, OBJ or binary PLY (chosen by the suffix).

    Every format carries Slicer's ``SPACE=LPS`` tag so 3D Slicer places it on the CT.
    """
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    writers = {"stl": _write_stl, "obj": _write_obj, "ply": _write_ply}
    if fmt not in writers:
        raise OutputError(f"Cannot write a mesh as '{path.suffix or path.name}'; use .stl, .obj or .ply.")
    ensure_not_inside(path, list(protected))
    return write_atomic(path, lambda tmp: writers[fmt](mesh, tmp), overwrite=overwrite)


def _input_folders(volume: Volume) -> list[str]:
    """The DICOM folders a volume was read from: results never go there."""
    if volume.dicom is None:
        return []
    return sorted({str(Path(f).parent) for f in volume.dicom.files})


def export_meshes(
    labels: Volume,
    folder: str | Path,
    fmt: str = "stl",
    protected: Sequence[str | Path] = (),
    *,
    labels_map: Mapping[int, str] | None = None,
    overwrite: bool = True,
    smoothing_iterations: int = DEFAULT_SMOOTHING_ITERATIONS,
    target_triangles: int | None = DEFAULT_TARGET_TRIANGLES,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> list[Path]:
    """Mesh every bone and write ``<folder>/<bone>.<fmt>``; returns the written paths.

    The CT's DICOM folder (when ``labels`` carries its DICOM facts) is protected too.
    """
    fmt = fmt.lower().lstrip(".")
    if fmt not in MESH_FORMATS:
        raise OutputError(f"Unknown mesh format '{fmt}'; choose one of {', '.join(MESH_FORMATS)}.")
    folder = Path(folder)
    protected = [*protected, *_input_folders(labels)]
    ensure_not_inside(folder, protected)
    meshes = bone_meshes(
        labels,
        labels_map,
        smoothing_iterations=smoothing_iterations,
        target_triangles=target_triangles,
        progress=scaled(progress, 0.0, 0.9),
        cancel=cancel,
    )
    written = [
        write_mesh(mesh, folder / f"{name}.{fmt}", overwrite=overwrite, protected=protected)
        for name, mesh in meshes.items()
    ]
    progress("Bone surfaces written", 1.0)
    return written


def surface_deviation(mesh: Mesh, labels: Volume, value: int) -> SurfaceDeviation:
    """How far ``mesh`` lies from the boundary of the voxels equal to ``value``.

    The boundary is the 0.5 iso-surface of the binary mask, linearly interpolated
    (through the mid-points between bone voxel centres and their non-bone neighbours).
    Distances are exact point-to-triangle distances, taken both ways (mesh vertices to
    the boundary, boundary vertices to the mesh); mean over all those points, and max.
    """
    mask = labels.array == value
    crop, offset = _crop_with_border(mask, 2)
    ref_zyx, ref_faces = marching_tetrahedra(crop.astype(np.float32), 0.5)
    ref_vertices, ref_faces = _index_to_patient(labels, ref_zyx + offset, ref_faces)
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


# ----------------------------------------------------------------------------------------
# surface extraction
# ----------------------------------------------------------------------------------------
def _crop_with_border(mask: np.ndarray, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """The mask's bounding box with ``pad`` empty voxels on every side, and its offset.

    The empty border closes surfaces of bones that touch the edge of the scan.
    """
    nz = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != axis))) for axis in range(3)]
    lo = np.array([n[0] for n in nz])
    hi = np.array([n[-1] + 1 for n in nz])
    core = mask[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    return np.pad(core, pad, mode="constant"), (lo - pad).astype(np.float64)


def _blurred_field(mask: np.ndarray, sigma_voxels: tuple[float, float, float]) -> np.ndarray:
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


def _index_to_patient(labels: Volume, verts_zyx: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Continuous (z,y,x) indices to LPS mm with the full direction matrix, keeping the
    normals outward (an index-to-patient map with negative determinant mirrors them)."""
    vertices = labels.index_to_lps(verts_zyx)
    zyx_to_xyz = np.array([[0, 0, 1], [0, 1, 0], [1, 0, 0]], dtype=float)
    jacobian = labels.direction @ np.diag(labels.spacing_xyz) @ zyx_to_xyz
    if np.linalg.det(jacobian) < 0:
        faces = faces[:, [0, 2, 1]]
    return vertices, faces


# ----------------------------------------------------------------------------------------
# smoothing and decimation
# ----------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------
# topology checks
# ----------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------
# distances
# ----------------------------------------------------------------------------------------
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


# ----------------------------------------------------------------------------------------
# file formats
# ----------------------------------------------------------------------------------------
def _header_text(mesh: Mesh) -> str:
    return f"KneeSeg {mesh.name or 'bone'} surface, mm. {SPACE_TAG}"


def _write_stl(mesh: Mesh, path: Path) -> None:
    """Binary STL with Slicer's ``SPACE=LPS`` in the 80-byte header."""
    tri = mesh.vertices.astype(np.float32)[mesh.faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    lengths = np.linalg.norm(normals, axis=1, keepdims=True)
    normals = np.divide(normals, lengths, out=np.zeros_like(normals), where=lengths > 0)
    record = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attribute", "<u2")])
    data = np.zeros(len(tri), dtype=record)
    data["normal"] = normals
    data["vertices"] = tri
    header = _header_text(mesh).encode("ascii")[:80].ljust(80, b" ")
    with open(path, "wb") as handle:
        handle.write(header)
        handle.write(np.uint32(len(tri)).tobytes())
        handle.write(data.tobytes())


def _write_obj(mesh: Mesh, path: Path) -> None:
    """Wavefront OBJ (1-based indices) with ``# ... SPACE=LPS`` as the first comment."""
    with open(path, "w", encoding="ascii", newline="\n") as handle:
        handle.write(f"# {_header_text(mesh)}\n")
        handle.write(f"o {mesh.name or 'bone'}\n")
        np.savetxt(handle, mesh.vertices.astype(np.float64), fmt="v %.6f %.6f %.6f")
        np.savetxt(handle, mesh.faces.astype(np.int64) + 1, fmt="f %d %d %d")


def _write_ply(mesh: Mesh, path: Path) -> None:
    """Binary little-endian PLY with a ``comment SPACE=LPS`` line (Slicer reads it)."""
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"comment {_header_text(mesh)}\n"
        f"element vertex {len(mesh.vertices)}\n"
        "property float x\nproperty float y\nproperty float z\n"
        f"element face {len(mesh.faces)}\n"
        "property list uchar int vertex_indices\nend_header\n"
    )
    face_record = np.dtype([("count", "u1"), ("indices", "<i4", (3,))])
    faces = np.zeros(len(mesh.faces), dtype=face_record)
    faces["count"] = 3
    faces["indices"] = mesh.faces
    with open(path, "wb") as handle:
        handle.write(header.encode("ascii"))
        handle.write(np.ascontiguousarray(mesh.vertices, dtype="<f4").tobytes())
        handle.write(faces.tobytes())


def _check_cancel(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()
