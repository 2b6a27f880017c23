"""The editable label map beside the model's untouched result, with undo and listeners.

Everything that reads "the result" (views, volumes, metrics, surfaces, exports) reads
``LabelEditor.labels``; ``LabelEditor.model`` stays exactly what the model produced so
"revert to model result" (itself undoable) and "changed since model" are always exact.
Every change goes through :meth:`LabelEditor.commit` (or a brush :class:`Stroke`), which
records a compact diff, bumps ``version`` and tells the listeners which box changed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.editing import regions
from kneeseg_app.core.editing.brush import BrushShape
from kneeseg_app.core.editing.diff import LabelDiff, diff_between, flat_in_box, make_diff
from kneeseg_app.core.editing.history import DEFAULT_UNDO_STEPS, EditStep, History
from kneeseg_app.core.editing.interpolation import interpolate_between
from kneeseg_app.core.editing.scope import PaintScope
from kneeseg_app.core.editing.smoothing import smooth_labels
from kneeseg_app.core.editing.stroke import Stroke
from kneeseg_app.core.errors import EditError


@dataclass(frozen=True)
class EditEvent:
    """What a listener learns after each change of the edited labels."""

    version: int
    kind: str
    """"edit", "stroke" (live, during a drag), "undo", "redo" or "reset"."""
    name: str
    box: tuple[slice, ...] | None
    """The array region that changed; None when anything may have (reset)."""


Listener = Callable[[EditEvent], None]
Index = tuple[int, int, int]
_MAX_SLICE_MEMORY = 64


class LabelEditor:
    """Edited labels, the model's labels, the CT (for HU limits), history and listeners."""

    def __init__(
        self,
        model_labels: np.ndarray,
        spacing_zyx: tuple[float, float, float],
        ct: np.ndarray | None = None,
        max_undo: int = DEFAULT_UNDO_STEPS,
    ) -> None:
        self.spacing_zyx = tuple(float(s) for s in spacing_zyx)
        self.history = History(max_undo)
        self._listeners: list[Listener] = []
        self.version = 0
        self._ct: np.ndarray | None = None
        self._stroke: Stroke | None = None
        self._load(model_labels, ct)

    def _load(self, model_labels: np.ndarray, ct: np.ndarray | None) -> None:
        if model_labels.ndim != 3:
            raise ValueError("a label map is 3D")
        if ct is not None and ct.shape != model_labels.shape:
            raise ValueError("the CT and the label map must share one grid")
        model = np.array(model_labels, copy=True, order="C")
        model.flags.writeable = False
        self._model = model
        self._labels = np.array(model, copy=True, order="C")
        self._ct = ct
        self._n_differing = 0
        self._counts = _count_labels(model)
        self._edited_slices: list[tuple[int, int, int]] = []

    # ----- what others read ----------------------------------------------
    @property
    def labels(self) -> np.ndarray:
        """The edited labels (read-only view: change them only through the editor)."""
        view = self._labels.view()
        view.flags.writeable = False
        return view

    @property
    def model(self) -> np.ndarray:
        """The model's result exactly as it came (read-only)."""
        return self._model

    @property
    def ct(self) -> np.ndarray | None:
        return self._ct

    @property
    def shape(self) -> tuple[int, int, int]:
        return self._model.shape  # type: ignore[return-value]

    @property
    def changed_since_model(self) -> bool:
        return self._n_differing > 0

    @property
    def voxels_changed_since_model(self) -> int:
        return self._n_differing

    def label_counts(self) -> dict[int, int]:
        """Voxels of each label value present in the edited labels (kept exact on every change, no rescan)."""
        return {value: int(n) for value, n in enumerate(self._counts) if n}

    def volumes_ml(self, names: dict[int, str]) -> dict[str, float]:
        """Volume in mL of each named label of the edited labels (0 for a label painted away)."""
        voxel_ml = float(np.prod(self.spacing_zyx)) / 1000.0
        counts = self._counts
        return {name: float(counts[v] if v < counts.size else 0) * voxel_ml for v, name in names.items() if v != 0}

    @property
    def can_undo(self) -> bool:
        return self.history.undo_count > 0

    @property
    def can_redo(self) -> bool:
        return self.history.redo_count > 0

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def unsubscribe(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    # ----- changing ------------------------------------------------------
    def commit(self, name: str, flat: np.ndarray, new: np.ndarray | int) -> int:
        """Set voxels ``flat`` (unique flat indices) to ``new`` as one undoable step.

        Returns the number of voxels that really changed (0 records no step).
        """
        self.finish_stroke()
        flat = np.asarray(flat, dtype=np.int64).ravel()
        old = self._labels.reshape(-1)[flat]
        diff = make_diff(self.shape, flat, old, np.asarray(new, dtype=self._labels.dtype))
        if diff is None:
            return 0
        self._apply(diff, forward=True)
        self.history.push(EditStep(name, diff))
        self._notify("edit", name, diff.slices)
        return diff.count

    def commit_box(self, name: str, box: tuple[slice, ...], mask: np.ndarray, new: np.ndarray | int) -> int:
        """:meth:`commit` for the True voxels of ``mask`` over ``box``; ``new`` per True voxel or one value."""
        return self.commit(name, flat_in_box(self.shape, box, mask), new)

    def begin_stroke(self, brush: BrushShape, value: int, scope: PaintScope | None = None, name: str = "") -> Stroke:
        """Start a brush (value > 0) or eraser (value 0) drag; one stroke is one undo step."""
        self.finish_stroke()
        self._stroke = Stroke(
            self, brush, int(value), scope or PaintScope(), name or ("Erase" if value == 0 else "Paint")
        )
        return self._stroke

    @property
    def open_stroke(self) -> Stroke | None:
        """The brush drag in progress, if any (undo, redo and every tool close it first)."""
        return self._stroke

    def finish_stroke(self) -> int:
        """Close the open stroke (if any) into one undo step; returns the voxels it changed."""
        stroke, self._stroke = self._stroke, None
        return stroke._close() if stroke is not None else 0

    def undo(self) -> bool:
        self.finish_stroke()
        step = self.history.pop_undo()
        if step is None:
            return False
        self._apply(step.diff, forward=False)
        self._notify("undo", step.name, step.diff.slices)
        return True

    def redo(self) -> bool:
        self.finish_stroke()
        step = self.history.pop_redo()
        if step is None:
            return False
        self._apply(step.diff, forward=True)
        self._notify("redo", step.name, step.diff.slices)
        return True

    def replace_labels(self, labels: np.ndarray, name: str = "Replace labels") -> int:
        """Make the edited labels equal ``labels`` (e.g. edits restored from a saved session), one undo step."""
        if labels.shape != self.shape:
            raise ValueError("the labels must have the model result's grid")
        self.finish_stroke()
        diff = diff_between(self._labels, np.asarray(labels, dtype=self._labels.dtype))
        if diff is None:
            return 0
        self._apply(diff, forward=True)
        self.history.push(EditStep(name, diff))
        self._notify("edit", name, diff.slices)
        return diff.count

    def revert_to_model(self) -> int:
        """Make the labels the model's result again, as one undoable step."""
        return self.replace_labels(self._model, "Revert to model result")

    def reset(self, model_labels: np.ndarray, ct: np.ndarray | None = None) -> None:
        """Take a new model result (a new segmentation): edits and history are dropped."""
        self._stroke = None
        self.history.clear()
        self._load(model_labels, ct)
        self._notify("reset", "New model result", None)

    # ----- tools (each one undo step) -------------------------------------
    def fill(self, seed: Index, value: int, axis: int | None = 0, scope: PaintScope | None = None) -> int:
        """Flood-fill the region around ``seed`` (same label, within the scope's HU range) with ``value``."""
        scope = scope or PaintScope()
        change = regions.flood_fill(self._labels, seed, value, axis, self._ct, scope.hu_range)
        ct = self._ct[change.box] if self._ct is not None and scope.hu_range is not None else None
        mask = change.mask & scope.allows(self._labels[change.box], ct)
        if axis is not None and value:
            self.note_edited_slice(axis, seed[axis], value)
        return self.commit_box("Fill", change.box, mask, change.value)

    def remove_island(self, seed: Index) -> int:
        """Remove the clicked connected piece of a bone (3D)."""
        return self._commit_change("Remove island", regions.remove_island(self._labels, seed))

    def keep_island(self, seed: Index) -> int:
        """Keep only the clicked piece of its bone; the bone's other pieces go."""
        return self._commit_change("Keep island", regions.keep_island(self._labels, seed))

    def keep_largest_island(self, value: int) -> int:
        return self._commit_change("Keep largest island", regions.keep_largest_island(self._labels, value))

    def fill_holes(self, value: int, axis: int | None = None, slice_index: int | None = None) -> int:
        """Fill background enclosed by bone ``value`` (3D, per slice of ``axis``, or one slice)."""
        return self._commit_change("Fill holes", regions.fill_holes(self._labels, value, axis, slice_index))

    def smooth(self, sigma_mm: float, value: int | None = None, plane: tuple[int, int] | None = None) -> int:
        """Smooth all labels (``value`` None) or one, in 3D or within one ``plane`` (axis, index)."""
        proposal = smooth_labels(self._labels, self.spacing_zyx, sigma_mm, value, plane)
        return self._commit_new_values("Smooth", proposal)

    def interpolate(self, value: int, axis: int, slices: tuple[int, int] | None = None, replace: bool = False) -> int:
        """Interpolate bone ``value`` between two slices (by default the last two painted on ``axis``)."""
        slices = slices or self.last_edited_slices(axis, value)
        if slices is None:
            raise EditError("Draw the bone on two slices of this view first, then interpolate between them.")
        proposal = interpolate_between(self._labels, self.spacing_zyx, value, axis, slices, replace)
        return self._commit_new_values("Interpolate", proposal)

    def _commit_change(self, name: str, change: regions.Change | None) -> int:
        return 0 if change is None else self.commit_box(name, change.box, change.mask, change.value)

    def _commit_new_values(self, name: str, proposal: tuple[tuple[slice, ...], np.ndarray] | None) -> int:
        if proposal is None:
            return 0
        box, new = proposal
        changed = new != self._labels[box]
        return self.commit_box(name, box, changed, new[changed])

    # ----- slices edited (for interpolation) ------------------------------
    def note_edited_slice(self, axis: int, index: int, value: int) -> None:
        self._edited_slices.append((int(axis), int(index), int(value)))
        del self._edited_slices[:-_MAX_SLICE_MEMORY]

    def last_edited_slices(self, axis: int, value: int) -> tuple[int, int] | None:
        """The two most recent distinct slices of ``axis`` painted with ``value``, ascending."""
        found: list[int] = []
        for a, index, v in reversed(self._edited_slices):
            if a == axis and v == value and index not in found:
                found.append(index)
                if len(found) == 2:
                    return (min(found), max(found))
        return None

    # ----- internals -----------------------------------------------------
    def _write(self, flat: np.ndarray, values: np.ndarray) -> None:
        """Write values, keeping the count of voxels that differ from the model exact."""
        flat_labels = self._labels.reshape(-1)
        model = self._model.reshape(-1)[flat]
        old = flat_labels[flat]
        before = int(np.count_nonzero(old != model))
        flat_labels[flat] = values
        new = flat_labels[flat]
        self._n_differing += int(np.count_nonzero(new != model)) - before
        size = max(self._counts.size, int(new.max(initial=0)) + 1)
        self._counts = np.pad(self._counts, (0, size - self._counts.size))
        self._counts -= np.bincount(old, minlength=size)
        self._counts += np.bincount(new, minlength=size)

    def _apply(self, diff: LabelDiff, forward: bool) -> None:
        values = diff.new if forward else diff.old
        self._write(diff.flat_indices(), values if values.size > 1 else values[0])

    def _notify(self, kind: str, name: str, box: tuple[slice, ...] | None) -> None:
        self.version += 1
        event = EditEvent(self.version, kind, name, box)
        for listener in list(self._listeners):
            listener(event)


def _count_labels(labels: np.ndarray, slab: int = 32) -> np.ndarray:
    """np.bincount of a label map, slab by slab (no int64 copy of a 157 MB volume)."""
    counts = np.zeros(1, dtype=np.int64)
    for start in range(0, labels.shape[0], slab):
        part = np.bincount(labels[start : start + slab].reshape(-1))
        counts = np.pad(counts, (0, max(part.size - counts.size, 0)))
        counts[: part.size] += part
    return counts
