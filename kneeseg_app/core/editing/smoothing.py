"""Smoothing of label maps that keeps labels exclusive (one label a voxel, as the result).

Each bone's indicator is blurred with a Gaussian and kept where it holds more than half
of the neighbourhood (a weighted median filter of each label): jagged edges, one-voxel
spurs and notches go. All labels at once: the shares of all labels sum to one, so at most
one bone can pass one half - labels stay exclusive and the joint gap between two bones
stays open. One label: only it is smoothed, and it may grow only into background, so the
other bone is never eaten.
The width is in mm, so smoothing is isotropic on the patient whatever the spacing.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kneeseg_app.core.editing.regions import Box, plane_box

_TRUNCATE = 3.0


def _region(labels: np.ndarray, sigma_vox: np.ndarray, plane: tuple[int, int] | None) -> Box | None:
    if plane is not None:
        return plane_box(labels.shape, *plane)
    hits = [np.flatnonzero((labels != 0).any(axis=tuple(b for b in range(3) if b != a))) for a in range(3)]
    if any(h.size == 0 for h in hits):
        return None
    margin = np.ceil(_TRUNCATE * sigma_vox).astype(int) + 1
    return tuple(
        slice(max(int(h[0]) - m, 0), min(int(h[-1]) + 1 + m, n)) for h, m, n in zip(hits, margin, labels.shape)
    )  # type: ignore[return-value]


def _blur(indicator: np.ndarray, sigma_vox: np.ndarray) -> np.ndarray:
    return ndimage.gaussian_filter(indicator.astype(np.float32), sigma=sigma_vox, mode="nearest", truncate=_TRUNCATE)


def smooth_labels(
    labels: np.ndarray,
    spacing_zyx: tuple[float, float, float],
    sigma_mm: float,
    value: int | None = None,
    plane: tuple[int, int] | None = None,
) -> tuple[Box, np.ndarray] | None:
    """(box, new labels over box) after smoothing; None when there is nothing to smooth.

    ``value`` None smooths all labels jointly; a label smooths that one only. ``plane``
    (axis, index) smooths within one slice (2D), otherwise in 3D.
    """
    if not sigma_mm > 0:
        raise ValueError("the smoothing width must be positive")
    sigma_vox = np.asarray(sigma_mm / np.asarray(spacing_zyx, dtype=np.float64))
    if plane is not None:
        sigma_vox = sigma_vox.copy()
        sigma_vox[plane[0]] = 0.0
    box = _region(labels, sigma_vox, plane)
    if box is None:
        return None
    current = labels[box]
    if value is None:
        return box, _vote(current, sigma_vox)
    inside = current == value
    smooth = _blur(inside, sigma_vox) > 0.5
    result = current.copy()
    result[inside & ~smooth] = 0
    result[smooth & ~inside & (current == 0)] = value
    return box, result


def _vote(current: np.ndarray, sigma_vox: np.ndarray) -> np.ndarray:
    """Per voxel, the bone holding more than half of the blurred neighbourhood, else background.

    Shares of all labels sum to one, so at most one bone can hold more than half: labels stay
    exclusive, and a thin background gap between two bones stays background.
    """
    winner = np.zeros(current.shape, dtype=current.dtype)
    for value in np.unique(current):
        if value != 0:
            winner[_blur(current == value, sigma_vox) > 0.5] = value
    return winner
