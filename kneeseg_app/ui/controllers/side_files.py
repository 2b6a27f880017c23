"""Bone surface files of the window, per side and named after the patient: ``12345_left_femur.stl``.

The same names as ``kneeseg segment --meshes`` (the core's split and file prefix); the
window's File > Patient ID in file names decides whether the ID is in them.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kneeseg_app.core.identity import PatientIdentity, file_prefix

SIDE_PREFIXES = ("", "right_", "left_")


def candidate_names(names: dict[int, str], identity: PatientIdentity | None, fmt: str = "stl") -> list[str]:
    """Every file name the surfaces of these bones may get (whichever sides the split finds)."""
    prefix = file_prefix(identity)
    return [f"{prefix}{side}{bone}.{fmt}" for bone in names.values() for side in SIDE_PREFIXES]


def export_surfaces_per_side(
    labels: Any,
    ct: Any,
    names: dict[int, str],
    folder: str | Path,
    identity: PatientIdentity | None,
    protected: Sequence[str | Path],
    progress: Any,
    cancel: Any,
) -> list[Path]:
    """Split ``labels`` per side (``ct`` tells a single knee's side) and write one STL per bone and side."""
    from kneeseg_app.core import mesh
    from kneeseg_app.core.sides import split_sides

    split = split_sides(labels, names, ct=ct if ct is not None and ct.same_grid(labels) else None)
    return mesh.export_meshes(
        split.part_labels(labels),
        folder,
        "stl",
        list(protected),
        labels_map=split.file_stems(file_prefix(identity)),
        progress=progress,
        cancel=cancel,
    )
