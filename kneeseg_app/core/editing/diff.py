"""One undoable change of a label map, stored compactly.

Undo must hold 50+ steps of a 512 x 512 x 600 label map (157 MB each as a copy), so a
step keeps only *where* voxels changed and their old / new values:

* where: either the sorted flat indices (4 bytes a voxel) or the changed voxels' bounding
  box plus a bit mask of it (1 bit a box voxel), whichever is smaller: a thin brush
  stroke is cheap as indices, a removed island (a dense blob) as a bit mask;
* values: one scalar when all old (or new) values are equal - the usual case, a brush
  stroke paints one label - otherwise one value per changed voxel.

Both encodings list the voxels in the same order (ascending flat index, which is also
C order inside any box), so the value arrays line up with either.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Box = tuple[tuple[int, int, int], tuple[int, int, int]]
"""(start_zyx, stop_zyx) with stop exclusive."""


@dataclass(frozen=True)
class LabelDiff:
    """Which voxels changed (compactly) and their values before and after."""

    shape: tuple[int, int, int]
    box: Box
    count: int
    indices: np.ndarray | None
    """Flat indices (uint32/int64, ascending) - or None when ``bits`` is used."""
    bits: np.ndarray | None
    """np.packbits of the boolean mask over ``box`` - or None when ``indices`` is used."""
    old: np.ndarray
    """Values before: shape (count,) or (1,) when all are equal."""
    new: np.ndarray
    """Values after: shape (count,) or (1,) when all are equal."""

    @property
    def nbytes(self) -> int:
        """Memory held by this step's arrays (what the undo budget counts)."""
        arrays = (self.indices, self.bits, self.old, self.new)
        return int(sum(a.nbytes for a in arrays if a is not None))

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        """The box as array slices (to refresh only what changed)."""
        start, stop = self.box
        return tuple(slice(a, b) for a, b in zip(start, stop))  # type: ignore[return-value]

    def flat_indices(self) -> np.ndarray:
        """The changed voxels' flat indices, ascending (int64)."""
        if self.indices is not None:
            return self.indices.astype(np.int64)
        start, stop = self.box
        box_shape = tuple(b - a for a, b in zip(start, stop))
        local = np.flatnonzero(self._box_mask(box_shape))
        zyx = np.unravel_index(local, box_shape)
        return np.ravel_multi_index(tuple(c + s for c, s in zip(zyx, start)), self.shape).astype(np.int64)

    def apply(self, labels: np.ndarray, forward: bool = True) -> None:
        """Write the new (forward) or old (backward) values into ``labels`` in place."""
        values = self.new if forward else self.old
        values = values[0] if values.size == 1 else values
        if self.indices is not None:
            labels.reshape(-1)[self.indices] = values
            return
        region = labels[self.slices]
        region[self._box_mask(region.shape)] = values

    def _box_mask(self, box_shape: tuple[int, ...]) -> np.ndarray:
        size = int(np.prod(box_shape))
        assert self.bits is not None
        return np.unpackbits(self.bits, count=size).view(bool).reshape(box_shape)


def _compact_values(values: np.ndarray) -> np.ndarray:
    """One element when all values are equal (a brush paints one label)."""
    if values.size and np.all(values == values[0]):
        return values[:1].copy()
    return np.ascontiguousarray(values)


def make_diff(shape: tuple[int, int, int], flat: np.ndarray, old: np.ndarray, new: np.ndarray) -> LabelDiff | None:
    """A diff for voxels ``flat`` going from ``old`` to ``new``; None when nothing changes.

    ``flat`` must not repeat an index. Voxels whose old and new values are equal are
    dropped, so the diff holds real changes only.
    """
    flat = np.asarray(flat, dtype=np.int64).ravel()
    old = np.asarray(old).ravel()
    new = np.broadcast_to(np.asarray(new, dtype=old.dtype), old.shape)
    changed = old != new
    flat, old, new = flat[changed], old[changed], new[changed]
    if flat.size == 0:
        return None
    order = np.argsort(flat, kind="stable")
    flat, old, new = flat[order], old[order], new[order]
    zyx = np.unravel_index(flat, shape)
    start = tuple(int(c.min()) for c in zyx)
    stop = tuple(int(c.max()) + 1 for c in zyx)
    box_shape = tuple(b - a for a, b in zip(start, stop))
    box_bytes = (int(np.prod(box_shape)) + 7) // 8
    index_dtype = np.uint32 if int(np.prod(shape)) < 2**32 else np.int64
    index_bytes = flat.size * np.dtype(index_dtype).itemsize
    indices = bits = None
    if index_bytes <= box_bytes:
        indices = flat.astype(index_dtype)
    else:
        mask = np.zeros(box_shape, dtype=bool)
        mask[tuple(c - s for c, s in zip(zyx, start))] = True
        bits = np.packbits(mask.reshape(-1))
    return LabelDiff(
        shape=tuple(int(s) for s in shape),  # type: ignore[arg-type]
        box=(start, stop),  # type: ignore[arg-type]
        count=int(flat.size),
        indices=indices,
        bits=bits,
        old=_compact_values(old),
        new=_compact_values(new),
    )


def diff_between(before: np.ndarray, after: np.ndarray) -> LabelDiff | None:
    """The diff that turns ``before`` into ``after`` (same shape), None when equal."""
    flat = np.flatnonzero(before.reshape(-1) != after.reshape(-1))
    if flat.size == 0:
        return None
    return make_diff(before.shape, flat, before.reshape(-1)[flat], after.reshape(-1)[flat])  # type: ignore[arg-type]


def flat_in_box(shape: tuple[int, ...], box: tuple[slice, ...], mask: np.ndarray) -> np.ndarray:
    """Flat indices (int64, ascending) in a volume of ``shape`` of the True voxels of ``mask`` over ``box``."""
    local = np.nonzero(mask)
    return np.ravel_multi_index(tuple(c + s.start for c, s in zip(local, box)), shape).astype(np.int64)
