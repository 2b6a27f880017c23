"""Sliding-window tiling and Gaussian importance weighting as nnU-Net v2 computes them.

Ports of ``compute_steps_for_sliding_window`` and ``compute_gaussian`` from
``nnunetv2.inference.sliding_window_prediction`` (checked against them in
``tests/core/test_sliding_window.py``), plus the small pieces the engine needs to walk
the tiles in batches and to accumulate weighted logits.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.ndimage import gaussian_filter


def compute_steps(image_size: Sequence[int], tile_size: Sequence[int], tile_step_size: float) -> list[list[int]]:
    """Start offsets of the tiles along each axis (nnU-Net's exact rounding)."""
    if not 0 < tile_step_size <= 1:
        raise ValueError("tile_step_size must be in (0, 1]")
    if any(i < t for i, t in zip(image_size, tile_size)):
        raise ValueError(f"image {tuple(image_size)} is smaller than the tile {tuple(tile_size)}; pad it first")
    target_steps = [t * tile_step_size for t in tile_size]
    num_steps = [int(np.ceil((i - t) / s)) + 1 for i, s, t in zip(image_size, target_steps, tile_size)]
    steps = []
    for dim, n in enumerate(num_steps):
        max_step = image_size[dim] - tile_size[dim]
        actual = max_step / (n - 1) if n > 1 else 99999999999
        steps.append([int(np.round(actual * i)) for i in range(n)])
    return steps


@lru_cache(maxsize=4)
def _gaussian_cached(tile_size: tuple[int, ...], sigma_scale: float, value_scaling_factor: float) -> np.ndarray:
    tmp = np.zeros(tile_size)
    tmp[tuple(i // 2 for i in tile_size)] = 1
    weights = gaussian_filter(tmp, [i * sigma_scale for i in tile_size], 0, mode="constant", cval=0)
    weights /= np.max(weights) / value_scaling_factor
    # nnU-Net keeps the map in float16 and replaces its zeros (underflow) by the smallest
    # non-zero value; torch converts float64 -> float16 through float32, and so do we,
    # which gives the very same weights.
    half = weights.astype(np.float32).astype(np.float16)
    zero = half == 0
    if zero.any():
        half[zero] = half[~zero].min()
    out = half.astype(np.float32)
    out.setflags(write=False)
    return out


def gaussian_importance(
    tile_size: Sequence[int], sigma_scale: float = 1.0 / 8, value_scaling_factor: float = 10.0
) -> np.ndarray:
    """The Gaussian importance map nnU-Net weights each tile's logits with (read-only float32)."""
    return _gaussian_cached(tuple(int(t) for t in tile_size), float(sigma_scale), float(value_scaling_factor))


def mirror_combinations(axes: Sequence[int]) -> list[tuple[int, ...]]:
    """All non-empty combinations of the mirroring axes, in nnU-Net's order."""
    axes = list(axes)
    return [c for i in range(len(axes)) for c in itertools.combinations(axes, i + 1)]


@dataclass(frozen=True)
class Tile:
    """One network input window: ``slice_index`` (2D networks only) plus start offsets."""

    slice_index: int | None
    start: tuple[int, ...]

    def window(self, tile_size: Sequence[int]) -> tuple[slice, ...]:
        """Index into a (Z, ...) array (2D) or a (D, H, W) array (3D)."""
        spatial = tuple(slice(s, s + t) for s, t in zip(self.start, tile_size))
        return spatial if self.slice_index is None else (self.slice_index, *spatial)


def tiles_from_steps(steps: list[list[int]], n_slices: int | None = None) -> list[Tile]:
    """Tiles at every combination of steps (nnU-Net's order); per slice for 2D networks."""
    starts = list(itertools.product(*steps))
    if n_slices is None:
        return [Tile(None, tuple(s)) for s in starts]
    return [Tile(d, tuple(s)) for d in range(n_slices) for s in starts]


def tiles_2d(n_slices: int, plane_size: Sequence[int], tile_size: Sequence[int], step: float) -> list[Tile]:
    """Tiles of a 2D network over a stack of slices, slice-major like nnU-Net."""
    return tiles_from_steps(compute_steps(plane_size, tile_size, step), n_slices)


def tiles_3d(image_size: Sequence[int], tile_size: Sequence[int], step: float) -> list[Tile]:
    """Tiles of a 3D network, in nnU-Net's order."""
    return tiles_from_steps(compute_steps(image_size, tile_size, step))


def batched(items: Sequence[Tile], size: int) -> Iterator[list[Tile]]:
    """Consecutive groups of at most ``size`` tiles (neighbouring slices run together)."""
    for start in range(0, len(items), max(size, 1)):
        yield list(items[start : start + size])


def weight_sum(
    image_size: Sequence[int], tile_size: Sequence[int], steps: list[list[int]], weights: np.ndarray
) -> np.ndarray:
    """Sum of the tile weights over one image (nnU-Net's ``n_predictions``).

    For 2D networks every slice sees the same windows, so one plane serves them all.
    """
    total = np.zeros(tuple(image_size), dtype=np.float32)
    for start in itertools.product(*steps):
        total[tuple(slice(s, s + t) for s, t in zip(start, tile_size))] += weights
    return total
