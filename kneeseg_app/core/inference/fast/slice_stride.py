"""Slice stride of the bone-window path: run every n-th slice, interpolate the logits between.

A speed option (``inference.slice_stride``): neighbouring 1 mm slices of a knee differ
little, so linear interpolation of the logits of run slices is close to running them; where
the two run neighbours disagree on too much bone (``slice_refine``), the slice is run too.
"""

from __future__ import annotations

import numpy as np


def strided_slices(k: int, stride: int) -> np.ndarray:
    """Offsets of the slices run in a slab of ``k``: every ``stride``-th, and always the last."""
    picks = list(range(0, k, max(stride, 1)))
    if picks[-1] != k - 1:
        picks.append(k - 1)
    return np.array(picks)


def interpolate_slices(computed: np.ndarray, picks: np.ndarray, k: int) -> np.ndarray:
    """(C, k, ...) logits, linear along the slices between the run ones (``picks``, sorted)."""
    out = np.empty((computed.shape[0], k, *computed.shape[2:]), dtype=np.float32)
    out[:, picks] = computed
    for j in range(len(picks) - 1):
        a, b = int(picks[j]), int(picks[j + 1])
        for i in range(a + 1, b):
            w = (i - a) / (b - a)
            np.multiply(computed[:, j], 1 - w, out=out[:, i])
            out[:, i] += w * computed[:, j + 1]
    return out


def disagree(labels: np.ndarray, picks: np.ndarray, i: int) -> float:
    """Fraction of the bone pixels of slice ``i``'s two run neighbours on which they disagree."""
    j = int(np.searchsorted(picks, i)) - 1
    a, b = labels[j], labels[j + 1]
    bone = int(((a > 0) | (b > 0)).sum())
    return float((a != b).sum()) / bone if bone else 0.0
