"""Coarse sub-grids of the CT grid, and interpolating their fields back slice by slice.

Anatomy is smooth on the scale of a voxel, so the phantom evaluates its implicit shapes on
every f-th voxel only, inside the bounding box of each structure, and interpolates
(trilinear) to the CT grid one slice at a time. That keeps a 512x512x300 phantom within a
few seconds and a few hundred megabytes. Linear interpolation preserves linear
inequalities between fields, so two bones kept apart on the coarse grid stay apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

FAR = 60.0
"""Value of a distance field outside the box where it was evaluated (mm, 'far outside')."""


@dataclass(frozen=True)
class FineGrid:
    """The CT grid (identity direction): shape, spacing and origin."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin_xyz: tuple[float, float, float]

    def axis(self, dim: int, index: np.ndarray) -> np.ndarray:
        """LPS coordinate along array axis ``dim`` (0 = z, 1 = y, 2 = x) of fine indices."""
        origin = self.origin_xyz[2 - dim]
        return origin + np.asarray(index, dtype=np.float64) * self.spacing[dim]

    def index_of(self, dim: int, coord: float) -> float:
        return (coord - self.origin_xyz[2 - dim]) / self.spacing[dim]


@dataclass(frozen=True)
class Box:
    """A box of coarse nodes: node ``i`` along ``dim`` is fine voxel ``i * factor[dim]``."""

    start: tuple[int, int, int]
    stop: tuple[int, int, int]
    factor: tuple[int, int, int]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(b - a for a, b in zip(self.start, self.stop))  # type: ignore[return-value]

    def axes(self, grid: FineGrid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """LPS coordinates of the nodes: (xs, ys, zs)."""
        zs, ys, xs = (grid.axis(d, np.arange(self.start[d], self.stop[d]) * self.factor[d]) for d in range(3))
        return xs, ys, zs

    def spacing(self, grid: FineGrid) -> tuple[float, float, float]:
        return tuple(grid.spacing[d] * self.factor[d] for d in range(3))  # type: ignore[return-value]

    def sub(self, other: Box) -> tuple[slice, slice, slice]:
        """Where ``other`` (same factors, inside this box) lies in this box's arrays."""
        return tuple(slice(o - s, p - s) for s, o, p in zip(self.start, other.start, other.stop))  # type: ignore[return-value]

    def intersect(self, other: Box) -> Box | None:
        start = tuple(max(a, b) for a, b in zip(self.start, other.start))
        stop = tuple(min(a, b) for a, b in zip(self.stop, other.stop))
        if any(b - a < 1 for a, b in zip(start, stop)):
            return None
        return Box(start, stop, self.factor)  # type: ignore[arg-type]


def box_around(grid: FineGrid, factor: tuple[int, int, int], lo_xyz: np.ndarray, hi_xyz: np.ndarray) -> Box | None:
    """Nodes covering the LPS box [lo, hi] clipped to the volume (None when it is outside)."""
    start, stop = [], []
    for dim in range(3):
        f = factor[dim]
        n = grid.shape[dim]
        a = grid.index_of(dim, float(lo_xyz[2 - dim]))
        b = grid.index_of(dim, float(hi_xyz[2 - dim]))
        a, b = max(a, 0.0), min(b, n - 1.0)
        if b < a:
            return None
        last = int(np.ceil((n - 1) / f))
        i0 = max(int(np.floor(a / f)), 0)
        i1 = min(int(np.ceil(b / f)), last)
        if i1 == i0:
            i1 = min(i0 + 1, last)
            i0 = max(i1 - 1, 0)
        start.append(i0)
        stop.append(i1 + 1)
    return Box(tuple(start), tuple(stop), factor)  # type: ignore[arg-type]


def union_box(boxes: list[Box | None]) -> Box | None:
    real = [b for b in boxes if b is not None]
    if not real:
        return None
    start = tuple(min(b.start[d] for b in real) for d in range(3))
    stop = tuple(max(b.stop[d] for b in real) for d in range(3))
    return Box(start, stop, real[0].factor)  # type: ignore[arg-type]


def trim(data: np.ndarray, box: Box, keep: np.ndarray, margin: int = 1) -> tuple[np.ndarray, Box] | None:
    """Shrink a stack (nf, z, y, x) to the bounding box of ``keep`` plus ``margin`` nodes."""
    bounds = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hit = np.nonzero(keep.any(axis=other))[0]
        if hit.size == 0:
            return None
        bounds.append((max(int(hit[0]) - margin, 0), min(int(hit[-1]) + margin + 1, keep.shape[axis])))
    cut = data[:, bounds[0][0] : bounds[0][1], bounds[1][0] : bounds[1][1], bounds[2][0] : bounds[2][1]]
    start = tuple(s + b[0] for s, b in zip(box.start, bounds))
    stop = tuple(s + b[1] for s, b in zip(box.start, bounds))
    return np.ascontiguousarray(cut), Box(start, stop, box.factor)  # type: ignore[arg-type]


def coarse_factors(spacing: tuple[float, float, float], target_mm: tuple[float, float, float]) -> tuple[int, int, int]:
    return tuple(max(1, int(round(t / s))) for t, s in zip(target_mm, spacing))  # type: ignore[return-value]


@dataclass
class CoarseStack:
    """Several fields on one box of coarse nodes, interpolated to CT slices on demand."""

    data: np.ndarray
    box: Box
    grid: FineGrid
    _ranges: dict = field(default_factory=dict, repr=False)
    _weights: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.data = np.ascontiguousarray(self.data, dtype=np.float32)
        for dim in (1, 2):
            f = self.box.factor[dim]
            first = self.box.start[dim] * f
            last = min((self.box.stop[dim] - 1) * f, self.grid.shape[dim] - 1)
            self._ranges[dim] = slice(first, last + 1)
            t = (np.arange(f) / f).astype(np.float32)
            self._weights[dim] = (1.0 - t, t)

    def at(self, z: float) -> tuple[slice, slice, np.ndarray] | None:
        """Fields at fine slice position ``z`` (may be fractional): (rows, cols, (nf, ny, nx))."""
        f = self.box.factor[0]
        pos = z / f - self.box.start[0]
        n = self.box.shape[0]
        if pos < -1e-6 or pos > n - 1 + 1e-6:
            return None
        i0 = int(min(max(np.floor(pos), 0), max(n - 2, 0)))
        t = float(pos - i0)
        if t < 1e-6 or n == 1:
            plane = self.data[:, i0]
        elif t > 1 - 1e-6:
            plane = self.data[:, i0 + 1]
        else:
            plane = self.data[:, i0] * np.float32(1.0 - t) + self.data[:, i0 + 1] * np.float32(t)
        plane = self._upsample(plane, 2)
        plane = self._upsample(plane, 1)
        return self._ranges[1], self._ranges[2], plane

    def _upsample(self, plane: np.ndarray, dim: int) -> np.ndarray:
        """Linear interpolation along axis ``dim`` by the integer factor (no gathers)."""
        f = self.box.factor[dim]
        count = self._ranges[dim].stop - self._ranges[dim].start
        if f == 1:
            return plane if plane.shape[dim] == count else np.take(plane, np.arange(count), axis=dim)
        w0, w1 = self._weights[dim]
        n = plane.shape[dim]
        shape = list(plane.shape)
        shape[dim] = (n - 1) * f + 1
        out = np.empty(shape, np.float32)
        if dim == 2:
            body = out[:, :, : (n - 1) * f].reshape(shape[0], shape[1], n - 1, f)
            np.multiply(plane[:, :, :-1, None], w0, out=body)
            body += plane[:, :, 1:, None] * w1
            out[:, :, -1] = plane[:, :, -1]
            return out[:, :, :count]
        body = out[:, : (n - 1) * f, :].reshape(shape[0], n - 1, f, shape[2])
        np.multiply(plane[:, :-1, None, :], w0[:, None], out=body)
        body += plane[:, 1:, None, :] * w1[:, None]
        out[:, -1, :] = plane[:, -1, :]
        return out[:, :count, :]
