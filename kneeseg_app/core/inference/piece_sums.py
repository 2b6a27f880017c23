"""Per-piece sums of voxel indices (for centres), exact and fast on a 300 x 512 x 512 label map.

``np.bincount(ids, weights=coordinate)`` converts every voxel's coordinate to a float and took 0.6 s on
the 9 million bone voxels of two knees at 0.3 mm pixels; a histogram of (index, piece) pairs takes 0.03 s
and gives the same integers. Both are exact (sums of integers below 2**53), so centres do not change.
"""

from __future__ import annotations

import numpy as np

MAX_BINS = 1 << 24
"""Above this many (index, piece) pairs the histogram costs more memory than it saves: weighted bincount."""


def index_sums(flat_index: np.ndarray, ids: np.ndarray, shape: tuple[int, ...], count: int) -> np.ndarray:
    """Sum of the voxel indices along each axis of the voxels of each piece: ``flat_index`` are the voxels'
    C-order positions in an array of ``shape``, ``ids`` their pieces (1..``count``). Returns a
    ``(count + 1, ndim)`` float array (row 0: the voxels with id 0, if any were passed)."""
    out = np.zeros((count + 1, len(shape)), dtype=np.float64)
    stride = 1
    for axis in range(len(shape) - 1, -1, -1):
        index = (flat_index // stride) % shape[axis]
        stride *= shape[axis]
        if shape[axis] * (count + 1) <= MAX_BINS:
            pairs = np.bincount(index * (count + 1) + ids, minlength=shape[axis] * (count + 1))
            out[:, axis] = np.arange(shape[axis], dtype=np.int64) @ pairs.reshape(shape[axis], count + 1)
        else:
            out[:, axis] = np.bincount(ids, weights=index, minlength=count + 1)
    return out
