"""Bone meshes of a planned scan, per knee, in LPS or in each bone's own coordinate system.

The bone frame is what prosthesis design software imports: right-handed, millimetres,
x = anterior, y = superior (along the shaft axis), z = the patient's right (ISB-like, the
same for both knees); origin = the femoral notch apex / the midpoint of the tibial plateau
centres. A ``<side>_<bone>.frame.json`` next to each mesh holds the LPS -> bone matrix.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from kneeseg_app.core.atomic import ensure_not_inside, write_bytes_atomic
from kneeseg_app.core.labels import FEMUR, TIBIA
from kneeseg_app.core.mesh import Mesh, bone_meshes, write_mesh
from kneeseg_app.core.planning.model import BonePlan, Plan
from kneeseg_app.core.sides import split_knees
from kneeseg_app.core.volume import Volume

LPS_TAG, ISB_TAG = b"SPACE=LPS", b"SPACE=ISB"


def bone_frame_matrix(bone: BonePlan) -> np.ndarray:
    """4x4 map LPS mm -> bone frame (x anterior, y superior, z patient's right)."""
    axes = np.asarray(bone.frame_axes)
    anterior, superior = -axes[1], axes[2]
    right = np.cross(anterior, superior)
    rot = np.stack([anterior, superior, right / np.linalg.norm(right)])
    matrix = np.eye(4)
    matrix[:3, :3] = rot
    matrix[:3, 3] = -rot @ np.asarray(bone.frame_origin)
    return matrix


def _knee_labels(labels: Volume, side: str | None) -> Volume:
    regions = split_knees(labels)
    region = next((r for r in regions if r.side == side), regions[0])
    array = np.zeros(labels.shape, np.uint8)
    for value, mask in ((FEMUR, region.femur), (TIBIA, region.tibia)):
        if mask is None:
            continue
        start = region.offset_zyx.astype(int)
        box = tuple(slice(a, a + n) for a, n in zip(start, mask.shape))
        array[box][mask] = value
    return labels.with_array(array)


def export_plan_meshes(
    plan: Plan,
    labels: Volume,
    folder: str | Path,
    fmt: str = "stl",
    *,
    bone_frame: bool = False,
    protected: Sequence[str | Path] = (),
    overwrite: bool = True,
) -> list[Path]:
    """Write ``<side>_<bone>.<fmt>`` for every knee (and the frame JSON in bone-frame mode)."""
    folder = Path(folder)
    ensure_not_inside(folder, list(protected))
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for knee in plan.knees:
        side = knee.side or "knee"
        meshes = bone_meshes(_knee_labels(labels, knee.side) if len(plan.knees) > 1 else labels)
        for name, mesh in meshes.items():
            bone = knee.bones.get(name)
            path = folder / f"{side}_{name}.{fmt}"
            if bone_frame and bone is not None and bone.frame_origin is not None:
                matrix = bone_frame_matrix(bone)
                vertices = mesh.vertices.astype(np.float64) @ matrix[:3, :3].T + matrix[:3, 3]
                mesh = Mesh(vertices.astype(np.float32), mesh.faces, name=f"{side} {name} bone frame")
                info = {
                    "mesh": path.name,
                    "axes": "x anterior, y superior (shaft axis), z patient's right; mm",
                    "origin": "femoral notch apex" if name == "femur" else "midpoint of the plateau centres",
                    "lps_to_bone": [[round(float(v), 6) for v in row] for row in matrix],
                }
                frame_path = folder / f"{side}_{name}.frame.json"
                write_bytes_atomic(frame_path, (json.dumps(info, indent=2) + "\n").encode("utf-8"), overwrite=overwrite)
                written.append(frame_path)
                written.append(_write_bone_frame_mesh(mesh, path, overwrite, protected))
            else:
                written.append(write_mesh(mesh, path, overwrite=overwrite, protected=list(protected)))
    return written


def _write_bone_frame_mesh(mesh: Mesh, path: Path, overwrite: bool, protected: Sequence[str | Path]) -> Path:
    """Write through the mesh module, then say in the header that this is not LPS.

    The mesh writers tag every file ``SPACE=LPS`` (3D Slicer reads it); a bone-frame mesh gets
    ``SPACE=ISB`` instead (same length, so binary PLY offsets stay right), which Slicer ignores.
    """
    staging = path.with_name(f".{path.name}.staging{path.suffix}")
    write_mesh(mesh, staging, overwrite=True, protected=list(protected))
    try:
        data = staging.read_bytes().replace(LPS_TAG, ISB_TAG, 1)
    finally:
        staging.unlink(missing_ok=True)
    return write_bytes_atomic(path, data, overwrite=overwrite)
