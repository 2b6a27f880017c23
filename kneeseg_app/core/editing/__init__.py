"""Correcting a segmentation: brush, eraser, fill, islands, smooth, holes, interpolation, undo.

Qt-free: the window's widgets only forward strokes and clicks to a :class:`LabelEditor`,
which keeps the model's result unchanged beside the edited labels that everything else
(volumes, metrics, surfaces, exports) reads.
"""

from kneeseg_app.core.editing.brush import BrushShape
from kneeseg_app.core.editing.diff import LabelDiff
from kneeseg_app.core.editing.editor import EditEvent, LabelEditor
from kneeseg_app.core.editing.history import DEFAULT_UNDO_STEPS, History
from kneeseg_app.core.editing.scope import BONE_HU_RANGE, DrawOver, PaintScope
from kneeseg_app.core.editing.stroke import Stroke

__all__ = [
    "BONE_HU_RANGE",
    "DEFAULT_UNDO_STEPS",
    "BrushShape",
    "DrawOver",
    "EditEvent",
    "History",
    "LabelDiff",
    "LabelEditor",
    "PaintScope",
    "Stroke",
]
