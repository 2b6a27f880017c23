"""Mesh files: binary STL, OBJ and binary PLY, each tagged ``SPACE=LPS`` so 3D Slicer places it on the CT."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kneeseg_app.core.atomic import write_atomic
from kneeseg_app.core.errors import OutputError
from kneeseg_app.core.mesh.surface import Mesh
from kneeseg_app.core.protection import refuse_input_folders

MESH_FORMATS = ("stl", "obj", "ply")
SPACE_TAG = "SPACE=LPS"
"""Coordinate system tag read by 3D Slicer from STL/OBJ/PLY headers and comments."""


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
    refuse_input_folders(path, protected)
    return write_atomic(path, lambda tmp: writers[fmt](mesh, tmp), overwrite=overwrite)


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
