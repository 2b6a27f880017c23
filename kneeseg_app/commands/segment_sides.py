"""The sides part of ``kneeseg segment``: volumes, meshes and metrics per knee, files named per patient.

A two-knee scan prints 'left femur 412.3 mL' and writes ``<patient ID>_left_femur.stl``;
a one-knee scan says 'Knee: right'. The label map itself keeps 1 femur, 2 tibia (the
models' contract): sides are derived from it (:mod:`kneeseg_app.core.sides`).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kneeseg_app.core.identity import PatientIdentity
    from kneeseg_app.core.sides import SideSplit
    from kneeseg_app.core.volume import Volume

HEADERS_TO_SNIFF = 64
"""How many files of an input folder are read for a patient ID before the CT is read."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--anonymous-names",
        action="store_true",
        help="name mesh files by side and bone only (left_femur.stl), without the patient ID",
    )


def mesh_file_names(bone_names: list[str], fmt: str, prefix: str) -> tuple[str, ...]:
    """Every name a mesh of these bones may get (side known or not): checked before any work."""
    return tuple(f"{prefix}{side}{bone}.{fmt}" for bone in bone_names for side in ("", "right_", "left_"))


def prefix_of(identity: PatientIdentity | None, args: argparse.Namespace) -> str:
    from kneeseg_app.core.identity import file_prefix

    return file_prefix(identity, anonymous=bool(getattr(args, "anonymous_names", False)))


def identity_hint(path: str | Path) -> PatientIdentity | None:
    """The patient of the first DICOM image in ``path`` (header only), to name outputs before the CT is read."""
    from kneeseg_app.core.dicom.headers import FileKind, read_header
    from kneeseg_app.core.dicom.scan import list_files

    target = Path(path)
    files = [str(target)] if target.is_file() else list_files(target)[:HEADERS_TO_SNIFF] if target.is_dir() else []
    for file in files:
        result = read_header(file)
        if result.kind is FileKind.DICOM and result.header is not None:
            return result.header.identity
    return None


def check_mesh_names(args: argparse.Namespace, bone_names: list[str], ct: Volume) -> None:
    """After reading: the mesh names with the CT's own patient ID (another series' patient may differ)."""
    from kneeseg_app.core.atomic import PlannedOutput, check_outputs

    if not args.meshes:
        return
    identity = ct.dicom.identity if ct.dicom is not None else None
    names = mesh_file_names(bone_names, args.mesh_format, prefix_of(identity, args))
    check_outputs([PlannedOutput(Path(args.meshes), "the bone surfaces", files=names)], [args.input], args.overwrite)


def split(result: Any, ct: Volume, label_names: dict[int, str]) -> SideSplit:
    from kneeseg_app.core.sides import split_sides

    return split_sides(result.labels, label_names, ct=ct)


def volume_lines(sides: SideSplit) -> list[str]:
    """'Knee: right' (or the two knees) and one line per bone and side."""
    lines = [sides.knee_line()]
    width = max([8, *(len(p.name) for p in sides.parts)])
    lines += [f"{p.name:<{width}} {p.volume_ml:8.1f} mL" for p in sides.parts]
    return lines


def write_meshes(args: argparse.Namespace, result: Any, ct: Volume, sides: SideSplit) -> list[Path]:
    """One surface per bone and side: ``<patient ID>_<side>_<bone>.<fmt>`` (no ID with --anonymous-names)."""
    from kneeseg_app.core.mesh import export_meshes

    identity = ct.dicom.identity if ct.dicom is not None else None
    return export_meshes(
        sides.part_labels(result.labels),
        args.meshes,
        fmt=args.mesh_format,
        protected=[args.input],
        labels_map=sides.file_stems(prefix_of(identity, args)),
        overwrite=args.overwrite,
    )


def metrics(result: Any, reference: Volume, label_names: dict[int, str]) -> dict[str, Any]:
    from kneeseg_app.core.metrics.sides import metrics_per_side

    return metrics_per_side(result.labels, reference, label_names)
