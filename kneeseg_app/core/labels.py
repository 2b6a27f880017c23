"""The one label table and side vocabulary of KneeSeg.

Every label map the app reads or writes uses the same ids (0 background, 1 femur, 2 tibia),
whether it came from a model, a reference file or a DICOM SEG; the names are part of the
data (written into metrics, DICOM SEG segments, mesh file names), so they live here and
nowhere else. Colours are a display matter and stay in the UI.

Sides follow DICOM patient coordinates (LPS): +x points to the patient's Left, so of two knees
the one at smaller x is the right knee, and the lateral direction of a left knee is +x.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

BACKGROUND = 0
FEMUR = 1
TIBIA = 2

LABEL_NAMES: Mapping[int, str] = MappingProxyType({FEMUR: "femur", TIBIA: "tibia"})
"""Foreground label id -> bone name (read-only; ``dict(LABEL_NAMES)`` for a copy to change)."""

BONE_NAMES: tuple[str, ...] = tuple(LABEL_NAMES.values())
"""The bones every model must segment, in label order."""

LEFT = "left"
RIGHT = "right"
SIDES: tuple[str, str] = (RIGHT, LEFT)
"""Patient sides, in the order of increasing LPS x."""

PATIENT_LEFT_LPS = np.array([1.0, 0.0, 0.0])
"""The unit vector pointing to the patient's left in LPS coordinates."""


def label_names() -> dict[int, str]:
    """A fresh, editable copy of the label table (id -> name)."""
    return dict(LABEL_NAMES)


def label_id(name: str) -> int:
    """The label id of a bone name (case-insensitive); raises KeyError for an unknown bone."""
    wanted = name.strip().lower()
    for value, known in LABEL_NAMES.items():
        if known == wanted:
            return value
    raise KeyError(f"unknown bone {name!r}: known bones are {', '.join(BONE_NAMES)}")


def names_or_default(names: Mapping[int, str] | Mapping[str, str] | None) -> dict[int, str]:
    """Foreground id -> name from a model's (possibly string-keyed) label map, else the table.

    Manifests and JSON key labels by strings; background (0) is never a named bone.
    """
    if not names:
        return label_names()
    return {int(k): str(v) for k, v in names.items() if int(k) != BACKGROUND}


def check_side(side: str) -> str:
    """``side`` normalised to 'left' or 'right'; ValueError for anything else."""
    normal = side.strip().lower()
    if normal not in SIDES:
        raise ValueError(f"side must be {LEFT!r} or {RIGHT!r}, not {side!r}")
    return normal


def side_of_x(x_lps: float, midline_x: float) -> str:
    """Which side of the patient a point at LPS ``x_lps`` lies on, given the midline's x."""
    return LEFT if x_lps > midline_x else RIGHT


def lateral_direction(side: str) -> np.ndarray:
    """The LPS unit vector pointing laterally (away from the midline) for a knee of ``side``."""
    return PATIENT_LEFT_LPS.copy() if check_side(side) == LEFT else -PATIENT_LEFT_LPS
