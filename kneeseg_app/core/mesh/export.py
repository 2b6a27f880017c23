"""The bone surface pipeline: one closed, smooth, decimated mesh per bone, and their files.

See the package docstring (:mod:`kneeseg_app.core.mesh`) for the steps and the coordinates.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from kneeseg_app.core.errors import LabelMapError, OutputError
from kneeseg_app.core.labels import LABEL_NAMES
from kneeseg_app.core.mesh.cleanup import decimate, taubin_smooth
from kneeseg_app.core.mesh.extract import blurred_field, crop_with_border, index_to_patient, marching_tetrahedra
from kneeseg_app.core.mesh.formats import MESH_FORMATS, write_mesh
from kneeseg_app.core.mesh.surface import Mesh
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress, scaled
from kneeseg_app.core.protection import input_folders, refuse_input_folders
from kneeseg_app.core.volume import Volume

DEFAULT_SMOOTHING_ITERATIONS = 20
DEFAULT_TARGET_TRIANGLES = 100_000
DEFAULT_BLUR_VOXELS = 0.5


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
    crop, offset = crop_with_border(mask, pad)
    del mask
    field = blurred_field(crop, sigma)
    _check_cancel(cancel)
    verts_zyx, faces = marching_tetrahedra(field, 0.5)
    del field, crop
    if len(faces) == 0:
        raise LabelMapError(f"The {label} holds too few voxels to form a surface; check the segmentation.")
    _check_cancel(cancel)
    vertices, faces = index_to_patient(labels, verts_zyx + offset, faces)
    progress(f"Smoothing the {label} surface", 0.4)
    vertices = taubin_smooth(vertices, faces, smoothing_iterations)
    _check_cancel(cancel)
    if target_triangles is not None and len(faces) > target_triangles:
        progress(f"Simplifying the {label} surface", 0.7)
        vertices, faces = decimate(vertices, faces, target_triangles)
    progress(f"The {label} surface is ready", 1.0)
    return Mesh(vertices.astype(np.float32), faces.astype(np.int32), name=name)


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
    protected = input_folders(protected, labels)
    refuse_input_folders(folder, protected)
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


def _check_cancel(cancel: CancelToken | None) -> None:
    if cancel is not None:
        cancel.raise_if_cancelled()
