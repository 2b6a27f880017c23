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


def piece_at(labels: np.ndarray, seed: Index, connectivity: int = FULL) -> tuple[int, Box, np.ndarray]:
    """(label, box, mask over box) of the connected piece of bone around ``seed``.

    Components are labelled in a box around the click that grows, side by side, only where
    the piece reaches a side of the box inside the image (each such side moves out by the
    box's size along that axis): a small fragment costs a small box, a whole bone about its
    own box - never the box of all pieces of that label, which may span the scan.
    """
    _check_index(labels.shape, seed)
    value = int(labels[seed])
    if value == 0:
        raise EditError("Click on a bone to pick one of its pieces.")
    structure = ndimage.generate_binary_structure(3, connectivity)
    shape, centre = np.asarray(labels.shape), np.asarray(seed)
    lo, hi = np.maximum(centre - 8, 0), np.minimum(centre + 9, shape)
    while True:
        box = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi))
        components, _ = ndimage.label(labels[box] == value, structure=structure)
        mask = components == components[tuple(centre - lo)]
        grow_lo, grow_hi = _sides_reached(mask, lo, hi, shape)
        if not (grow_lo.any() or grow_hi.any()):
            tight = label_box(mask, True)  # the piece's own box
            assert tight is not None
            box = tuple(slice(b.start + t.start, b.start + t.stop) for b, t in zip(box, tight))
            return value, box, mask[tight]  # type: ignore[return-value]
        size = np.maximum(hi - lo, 16)
        lo = np.where(grow_lo, np.maximum(lo - size, 0), lo)
        hi = np.where(grow_hi, np.minimum(hi + size, shape), hi)


def _sides_reached(
    mask: np.ndarray, lo: np.ndarray, hi: np.ndarray, shape: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per axis: does the piece reach the box's low / high side where the image goes on?"""
    low = np.array([lo[a] > 0 and bool(np.take(mask, 0, axis=a).any()) for a in range(3)])
    high = np.array([hi[a] < shape[a] and bool(np.take(mask, -1, axis=a).any()) for a in range(3)])
    return low, high


def remove_island(labels: np.ndarray, seed: Index, connectivity: int = FULL) -> Change:
    """The connected piece of the clicked bone, set to background."""
    _, box, mask = piece_at(labels, seed, connectivity)
    return Change(box, mask, 0)


def keep_island(labels: np.ndarray, seed: Index, connectivity: int = FULL) -> Change | None:
    """Every other piece of the clicked bone, set to background (the clicked one stays)."""
    value, piece_box, piece = piece_at(labels, seed, connectivity)
    box = label_box(labels, value)
    assert box is not None
    others = labels[box] == value
    inner = tuple(slice(p.start - b.start, p.stop - b.start) for p, b in zip(piece_box, box))
    others[inner] &= ~piece
    return Change(box, others, 0)  # type: ignore[arg-type]


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
