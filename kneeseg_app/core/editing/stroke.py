"""A brush or eraser drag: painted live point by point, one undo step when it ends.

Every voxel a stroke changes gets the stroke's one value, so it changes at most once:
the pieces recorded on the way never repeat a voxel and join into one compact diff.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from kneeseg_app.core.editing.brush import BrushShape, Point, capsule_region
from kneeseg_app.core.editing.diff import flat_in_box, make_diff
from kneeseg_app.core.editing.history import EditStep
from kneeseg_app.core.editing.scope import PaintScope

if TYPE_CHECKING:
    from kneeseg_app.core.editing.editor import LabelEditor


class Stroke:
    """A brush or eraser drag: paints live on every point, closes into one undo step."""

    def __init__(self, editor: LabelEditor, brush: BrushShape, value: int, scope: PaintScope, name: str) -> None:
        self.editor = editor
        self.brush = brush
        self.value = value
        self.scope = scope
        self.name = name
        self._last: Point | None = None
        self._flat: list[np.ndarray] = []
        self._old: list[np.ndarray] = []

    def add(self, point_zyx: Point) -> int:
        """Paint from the previous point to this one (continuous voxel position z, y, x)."""
        if self.editor._stroke is not self:
            raise RuntimeError("this stroke is finished")
        start = self._last if self._last is not None else point_zyx
        if self.brush.axis is not None and self._last is not None:
            point_zyx = tuple(start[i] if i == self.brush.axis else point_zyx[i] for i in range(3))  # type: ignore[assignment]
        self._last = point_zyx
        region = capsule_region(self.editor.shape, self.editor.spacing_zyx, start, point_zyx, self.brush)
        if region is None:
            return 0
        box, mask = region
        labels = self.editor._labels[box]
        ct = self.editor.ct[box] if self.editor.ct is not None and self.scope.hu_range is not None else None
        mask &= self.scope.allows(labels, ct) & (labels != self.value)
        if not mask.any():
            return 0
        flat = flat_in_box(self.editor.shape, box, mask)
        self._flat.append(flat)
        self._old.append(labels[mask])
        self.editor._write(flat, np.asarray(self.value, dtype=labels.dtype))
        self.editor._notify("stroke", self.name, box)
        return int(flat.size)

    def _close(self) -> int:
        if self.brush.axis is not None and self._last is not None and self.value != 0:
            self.editor.note_edited_slice(self.brush.axis, int(round(self._last[self.brush.axis])), self.value)
        if not self._flat:
            return 0
        flat = np.concatenate(self._flat)
        old = np.concatenate(self._old)
        diff = make_diff(self.editor.shape, flat, old, np.asarray(self.value, dtype=old.dtype))
        if diff is None:
            return 0
        self.editor.history.push(EditStep(self.name, diff))
        self.editor._notify("edit", self.name, diff.slices)
        return diff.count
