"""The one output-protection rule: a result is never written into what the user opened.

A hospital's DICOM folder (often a read-only archive export, sometimes a PACS share) and
the folder of a reference label map are the user's data; a label map, mesh, DICOM SEG or
report landing there mixes our output into theirs. The folders to protect are decided
here, once, from what was opened (paths) and what was read (a DICOM volume's own files),
for the CLI, the window and the batch dialog alike; :func:`refuse_input_folders` is the
check every writer calls.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from kneeseg_app.core.atomic import ensure_not_inside
from kneeseg_app.core.volume import Volume

PathLike = str | os.PathLike[str]


def input_folders(opened: Iterable[PathLike] = (), volume: Volume | None = None) -> tuple[Path, ...]:
    """The folders no result may be written into, resolved and without repeats.

    Each opened folder, the folder of each opened file (a DICOM file stands for its
    series, a NIfTI file sits among the user's data), and the folders of the DICOM files
    ``volume`` was read from (even when the user opened a DICOMDIR or a parent folder).
    """
    folders: list[Path] = []
    for item in opened:
        path = Path(item).resolve()
        folders.append(path if path.is_dir() or not path.exists() and not path.suffix else path.parent)
    if volume is not None and volume.dicom is not None:
        folders += [Path(f).resolve().parent for f in volume.dicom.files]
    return tuple(dict.fromkeys(folders))


def refuse_input_folders(target: PathLike, opened: Iterable[PathLike] = (), volume: Volume | None = None) -> None:
    """Raise OutputError (one sentence) when ``target`` lies inside an input folder."""
    ensure_not_inside(target, list(input_folders(opened, volume)))
