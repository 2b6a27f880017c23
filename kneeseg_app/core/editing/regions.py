"""Region edits computed from the labels (and CT): flood fill, islands, holes.

Each function only *proposes* a change - (box, mask over box, new value) - and never
writes; the editor commits it as one undoable step. Work is cropped to the bounding box
of the label concerned, so a click on a 512 x 512 x 600 case labels components in the
bone's box, not in the whole CT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kneeseg_app.core.errors import EditError

Box = tuple[slice, slice, slice]
Index = tuple[int, int, int]

FACE = 1
FULL = 3
"""Connectivity ranks for ndimage.generate_binary_structure: FULL (26 in 3D) matches the post-processing."""


@dataclass(frozen=True)
class Change:
    """A proposed edit: voxels ``mask`` over ``box`` get ``value``."""

    box: Box
    mask: np.ndarray
    value: int

    @property
    def count(self) -> int:
        return int(np.count_nonzero(self.mask))


def label_box(labels: np.ndarray, value: int, margin: int = 0) -> Box | None:
    """Bounding box of the voxels equal to ``value`` (grown by ``margin``), None when absent."""
    present = labels == value
    spans = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hits = np.flatnonzero(present.any(axis=other))
        if hits.size == 0:
            return None
        spans.append(slice(max(int(hits[0]) - margin, 0), min(int(hits[-1]) + 1 + margin, labels.shape[axis])))
    return tuple(spans)  # type: ignore[return-value]


def plane_box(shape: tuple[int, ...], axis: int, index: int) -> Box:
    """The box of one slice (``index`` along ``axis``) of a volume."""
    box = [slice(0, n) for n in shape]
    box[axis] = slice(index, index + 1)
    return tuple(box)  # type: ignore[return-value]


def _check_index(shape: tuple[int, ...], seed: Index) -> None:
    if not all(0 <= int(s) < n for s, n in zip(seed, shape)):
        raise EditError("The point clicked is outside the image.")


def flood_fill(
    labels: np.ndarray,
    seed: Index,
    value: int,
    axis: int | None = 0,
    ct: np.ndarray | None = None,
    hu_range: tuple[float, float] | None = None,
) -> Change:
    """The connected region around ``seed`` sharing its label (and within the HU range) set to ``value``.

    ``axis`` gives a 2D fill in the seed's slice of that axis (4-connected); None fills in 3D.
    """
    _check_index(labels.shape, seed)
    box = plane_box(labels.shape, axis, seed[axis]) if axis is not None else tuple(slice(0, n) for n in labels.shape)
    region = labels[box] == labels[seed]
    if hu_range is not None:
        if ct is None:
            raise ValueError("an HU range needs the CT")
        part = ct[box]
        region &= (part >= hu_range[0]) & (part <= hu_range[1])
    local = tuple(int(s) - b.start for s, b in zip(seed, box))
    if not region[local]:
        return Change(box, np.zeros_like(region), int(value))  # type: ignore[arg-type]
    structure = ndimage.generate_binary_structure(3, FACE)
    if axis is not None:
        keep = [slice(None)] * 3
        keep[axis] = slice(1, 2)
        flat = np.zeros_like(structure)
        flat[tuple(keep)] = structure[tuple(keep)]
        structure = flat
    components, _ = ndimage.label(region, structure=structure)
    return Change(box, components == components[local], int(value))  # type: ignore[arg-type]


def _components_of(labels: np.ndarray, seed: Index, connectivity: int) -> tuple[int, Box, np.ndarray, int]:
    _check_index(labels.shape, seed)
    value = int(labels[seed])
    if value == 0:
        raise EditError("Click on a bone to pick one of its pieces.")
    box = label_box(labels, value)
    assert box is not None
    structure = ndimage.generate_binary_structure(3, connectivity)
    components, _ = ndimage.label(labels[box] == value, structure=structure)
    local = tuple(int(s) - b.start for s, b in zip(seed, box))
    return value, box, components, int(components[local])


def remove_island(labels: np.ndarray, seed: Index, connectivity: int = FULL) -> Change:
    """The connected piece of the clicked bone, set to background."""
    _, box, components, chosen = _components_of(labels, seed, connectivity)
    return Change(box, components == chosen, 0)


def keep_island(labels: np.ndarray, seed: Index, connectivity: int = FULL) -> Change:
    """Every other piece of the clicked bone, set to background (the clicked one stays)."""
    _, box, components, chosen = _components_of(labels, seed, connectivity)
    return Change(box, (components > 0) & (components != chosen), 0)


def keep_largest_island(labels: np.ndarray, value: int, connectivity: int = FULL) -> Change | None:
    """All but the largest piece of label ``value``, set to background; None when the label is absent."""
    box = label_box(labels, value)
    if box is None:
        return None
    components, count = ndimage.label(
        labels[box] == value, structure=ndimage.generate_binary_structure(3, connectivity)
    )
    sizes = np.bincount(components.ravel())
    sizes[0] = 0
    return Change(box, (components > 0) & (components != int(sizes.argmax())), 0)


def fill_holes(
    labels: np.ndarray, value: int, axis: int | None = None, slice_index: int | None = None
) -> Change | None:
    """Background enclosed by label ``value``, set to ``value``; never takes the other bone's voxels.

    ``axis`` None: holes enclosed in 3D. ``axis`` alone: holes enclosed within each slice of
    that axis (a cavity open at its ends in 3D is closed slice by slice). ``axis`` with
    ``slice_index``: that slice only.
    """
    box = label_box(labels, value)
    if box is None:
        return None
    if slice_index is not None:
        if axis is None:
            raise ValueError("a slice index needs an axis")
        if not box[axis].start <= slice_index < box[axis].stop:
            return None
        box = tuple(slice(slice_index, slice_index + 1) if a == axis else b for a, b in enumerate(box))  # type: ignore[assignment]
    region = labels[box]
    mask = region == value
    if axis is None:
        filled = ndimage.binary_fill_holes(mask)
    else:
        filled = _fill_holes_per_slice(mask, axis)
    return Change(box, filled & ~mask & (region == 0), int(value))


def _fill_holes_per_slice(mask: np.ndarray, axis: int) -> np.ndarray:
    """Holes within each slice: in-plane connectivity only, both ends padded as 'inside'."""
    structure = np.zeros((3, 3, 3), dtype=bool)
    keep = [slice(None)] * 3
    keep[axis] = slice(1, 2)
    structure[tuple(keep)] = ndimage.generate_binary_structure(3, FACE)[tuple(keep)]
    pad = [(0, 0)] * 3
    pad[axis] = (1, 1)
    padded = np.pad(mask, pad, constant_values=True)
    filled = ndimage.binary_fill_holes(padded, structure=structure)
    inner = [slice(None)] * 3
    inner[axis] = slice(1, -1)
    return filled[tuple(inner)]
