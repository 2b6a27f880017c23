"""Where the bones are: a cheap first pass that lets 2D inference run the network on less.

A knee CT is mostly air, table and soft tissue; femur and tibia fill a small part of
each 512 x 512 slice. Thresholding the CT at a bone-like HU, filling cortical rings and
eroding away thin shells (the table's carbon skin, calcified vessels) gives, per slice,
a box that holds every bone; the network then runs on a window around the boxes of a
slab of slices (plus a margin), and slices far from any bone are not run at all. The
engine checks the result and widens the window where a bone reaches its edge, so a
missed box costs time, not accuracy.

Also here: the geometry of in-plane resampling (nnU-Net's ``grid_mode`` zoom) needed to
cut matching windows out of the source and the resampled planes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kneeseg_app.core.progress import CancelToken

Box = tuple[int, int, int, int]
"""In-plane box ``(y0, y1, x0, x1)``, half-open, in pixels."""

SUBSAMPLE_MM = 1.5
"""Pixel size of the first pass: fine enough for a 3 mm cortex, 4-9x cheaper than full size."""

_SQUARE = np.ones((3, 3), dtype=bool)


# ----------------------------------------------------------------------------
# the first pass
# ----------------------------------------------------------------------------
def fill_holes_2d(mask: np.ndarray) -> np.ndarray:
    """``binary_fill_holes`` through one labelling of the background (several times faster)."""
    background = ~mask
    labelled, _ = ndimage.label(background)
    border = np.unique(np.concatenate([labelled[0], labelled[-1], labelled[:, 0], labelled[:, -1]]))
    outside = np.isin(labelled, border[border > 0])
    return ~outside


def bone_box(plane: np.ndarray, threshold: float, step: int) -> Box | None:
    """Box of the thick bone-like structures of one slice (HU), or ``None``.

    Thresholded on a sub-sampled grid; rings are filled so a femoral shaft (cortex
    around fatty marrow) counts as a solid disc; an erosion removes structures one or
    two sub-sampled pixels thin. The box is widened by a pixel to undo the erosion.
    """
    mask = np.asarray(plane[::step, ::step]) > threshold
    if not mask.any():
        return None
    core = ndimage.binary_erosion(fill_holes_2d(mask), _SQUARE)
    if not core.any():
        return None
    rows = np.flatnonzero(core.any(axis=1))
    cols = np.flatnonzero(core.any(axis=0))
    h, w = plane.shape
    return (
        max((int(rows[0]) - 1) * step, 0),
        min((int(rows[-1]) + 2) * step, h),
        max((int(cols[0]) - 1) * step, 0),
        min((int(cols[-1]) + 2) * step, w),
    )


def bone_boxes(
    planes: np.ndarray, spacing_yx: Sequence[float], threshold_hu: float, cancel: CancelToken | None = None
) -> list[Box | None]:
    """Per-slice bone boxes of a (k, H, W) HU stack (any view; read slice by slice)."""
    step = max(1, int(round(SUBSAMPLE_MM / max(min(spacing_yx), 1e-3))))
    boxes: list[Box | None] = []
    for plane in planes:
        if cancel is not None and len(boxes) % 32 == 0:
            cancel.raise_if_cancelled()
        boxes.append(bone_box(plane, threshold_hu, step))
    return boxes


def union(boxes: Sequence[Box | None]) -> Box | None:
    """The smallest box holding every given box (``None`` when there are none)."""
    present = [b for b in boxes if b is not None]
    if not present:
        return None
    return (
        min(b[0] for b in present),
        max(b[1] for b in present),
        min(b[2] for b in present),
        max(b[3] for b in present),
    )


def grow(box: Box, margin_yx: Sequence[int], shape_yx: Sequence[int]) -> Box:
    """``box`` widened by the margin on every side, clipped to the plane."""
    my, mx = margin_yx
    h, w = shape_yx
    return (max(box[0] - my, 0), min(box[1] + my, h), max(box[2] - mx, 0), min(box[3] + mx, w))


def slices_near_bone(boxes: Sequence[Box | None], margin: int) -> np.ndarray:
    """Which slices to run: those with a bone box or within ``margin`` slices of one."""
    has = np.array([b is not None for b in boxes], dtype=bool)
    if margin > 0 and has.any():
        has = ndimage.binary_dilation(has, iterations=margin)
    return has


def runs(flags: np.ndarray, longest: int) -> list[tuple[int, int]]:
    """Consecutive stretches ``(start, stop)`` of true flags, none longer than ``longest``."""
    out = []
    index = np.flatnonzero(flags)
    if index.size == 0:
        return out
    breaks = np.flatnonzero(np.diff(index) > 1)
    starts = np.concatenate([[index[0]], index[breaks + 1]])
    stops = np.concatenate([index[breaks] + 1, [index[-1] + 1]])
    for start, stop in zip(starts, stops):
        for s in range(int(start), int(stop), max(longest, 1)):
            out.append((s, min(s + longest, int(stop))))
    return out


# ----------------------------------------------------------------------------
# resampling geometry
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class AxisMap:
    """One in-plane axis resampled from ``n_in`` to ``n_out`` pixels as nnU-Net's zoom does
    (``grid_mode=True``: pixel edges, not centres, line up)."""

    n_in: int
    n_out: int

    @property
    def identity(self) -> bool:
        return self.n_in == self.n_out

    @property
    def in_per_out(self) -> float:
        return self.n_in / self.n_out

    def to_out(self, i: float) -> float:
        """Output coordinate of input coordinate ``i``."""
        return (i + 0.5) * self.n_out / self.n_in - 0.5

    def to_in(self, j: float) -> float:
        """Input coordinate of output coordinate ``j``."""
        return (j + 0.5) * self.n_in / self.n_out - 0.5


def network_range(
    source: tuple[int, int], axis: AxisMap, divisibility: int, patch: int, minimum: int = 0, reach: int = 2
) -> tuple[int, int]:
    """The output pixels the network must cover so ``source`` pixels can be resampled back.

    ``reach`` output pixels beyond the coordinates of the first and last source pixel
    (interpolation support), at least ``minimum`` pixels (context: networks with
    instance normalisation judge a pixel by its window). The size is rounded up to the
    divisibility (or kept, when it exceeds the patch and a sliding window will be
    used), centred, and moved inside the image where it fits; otherwise it is centred
    on the image (padded like nnU-Net).
    """
    lo = math.floor(axis.to_out(source[0])) - reach
    hi = math.ceil(axis.to_out(source[1] - 1)) + reach + 1
    if hi - lo < minimum:
        lo -= (minimum - (hi - lo)) // 2
        hi = lo + minimum
    size = hi - lo
    if size <= patch:
        size = min(patch, -(-size // divisibility) * divisibility)
    lo -= (size - (hi - lo)) // 2
    if size <= axis.n_out:
        lo = min(max(lo, 0), axis.n_out - size)
    else:
        lo = -((size - axis.n_out) // 2)
    return lo, lo + size


def input_range(window: tuple[int, int], axis: AxisMap, reach: int) -> tuple[int, int]:
    """Input pixels needed to compute the output pixels of ``window`` that lie in the image."""
    lo, hi = max(window[0], 0), min(window[1], axis.n_out)
    first = math.floor(axis.to_in(lo)) - reach
    last = math.ceil(axis.to_in(hi - 1)) + reach + 1
    return max(first, 0), min(last, axis.n_in)
