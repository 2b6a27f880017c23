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
BODY_HU = -400.0
"""Tissue threshold of the body outline (fat is about -100 HU, table foam and cushions below -750 HU)."""
SOFT_HU = (-250.0, 250.0)
"""Fat, muscle, skin: what a body outline must hold (a dense block on the table holds none)."""
BODY_STEP_MM = 3.0
"""Pixel size of the body outline: it bounds windows, it need not follow the skin closely."""
BODY_OPENING_MM = 4.0
"""Thin structures (the table's shell, straps, cables) are cut off the outline by an opening this wide."""
DENSE_HU = 100.0
"""Labels on pixels below this (air, fat, muscle) are no evidence of bone: they never widen a window."""

_SQUARE = np.ones((3, 3), dtype=bool)


# ----------------------------------------------------------------------------
# the first pass
# ----------------------------------------------------------------------------
def fill_holes_2d(mask: np.ndarray) -> np.ndarray:
    """``binary_fill_holes`` through one labelling of the background (several times faster)."""
    background = ~mask
    labelled, count = ndimage.label(background)
    touches_border = np.zeros(count + 1, dtype=bool)  # a lookup table: np.isin is 5x slower per slice
    touches_border[np.concatenate([labelled[0], labelled[-1], labelled[:, 0], labelled[:, -1]])] = True
    touches_border[0] = False
    return ~touches_border[labelled]


def body_mask_2d(plane: np.ndarray, step: int, opening_px: int) -> np.ndarray:
    """The patient's outline in one slice (HU) on a grid sub-sampled by ``step``.

    An outline is the patient's when it holds soft tissue (:data:`SOFT_HU`), at least a fifth
    as much as the one with the most, so both legs count; the table, its shell and a dense
    object lying on it apart from the patient do not.
    """
    sampled = np.asarray(plane[::step, ::step])
    tissue = sampled > BODY_HU
    if opening_px > 0:
        yy, xx = np.mgrid[-opening_px : opening_px + 1, -opening_px : opening_px + 1]
        tissue = ndimage.binary_opening(tissue, structure=(yy**2 + xx**2) <= opening_px**2)
    tissue = fill_holes_2d(tissue)
    outlines, count = ndimage.label(tissue)
    if count == 0:
        return tissue
    soft = np.bincount(
        outlines.ravel(), weights=((sampled > SOFT_HU[0]) & (sampled < SOFT_HU[1])).ravel(), minlength=count + 1
    )
    soft[0] = 0
    if soft.max() == 0:  # no soft tissue at all (a bare bone or a test object): every outline counts
        return tissue
    patient = soft >= 0.2 * soft.max()  # soft[0] is 0: the background is never the patient
    return patient[outlines]


def body_grid(spacing_yx: Sequence[float]) -> tuple[int, int]:
    """Sub-sampling step of the body outline for a pixel spacing, and its opening radius in those pixels."""
    pixel = max(min(spacing_yx), 1e-3)
    step = max(1, int(round(BODY_STEP_MM / pixel)))
    return step, max(1, int(round(BODY_OPENING_MM / (step * pixel) / 2)))


def mask_box(mask: np.ndarray, step: int, shape_yx: Sequence[int]) -> Box | None:
    """Box (full-size pixels) of a mask on a grid sub-sampled by ``step``."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = shape_yx
    return (
        int(rows[0]) * step,
        min((int(rows[-1]) + 1) * step, h),
        int(cols[0]) * step,
        min((int(cols[-1]) + 1) * step, w),
    )


def bone_box(plane: np.ndarray, threshold: float, step: int, body: np.ndarray | None = None) -> Box | None:
    """Box of the thick bone-like structures of one slice (HU), or ``None``.

    Thresholded on a sub-sampled grid; rings are filled so a femoral shaft (cortex
    around fatty marrow) counts as a solid disc; only what lies in the ``body`` outline
    (same grid) counts, so a dense table, cushion or object beside the patient never
    makes a window; an erosion removes structures one or two sub-sampled pixels thin.
    The box is widened by a pixel to undo the erosion.
    """
    mask = np.asarray(plane[::step, ::step]) > threshold
    if not mask.any():
        return None
    mask = fill_holes_2d(mask)
    if body is not None:
        mask &= body
    core = ndimage.binary_erosion(mask, _SQUARE)
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


def first_pass(
    planes: np.ndarray, spacing_yx: Sequence[float], threshold_hu: float, cancel: CancelToken | None = None
) -> tuple[list[Box | None], list[Box | None]]:
    """Per-slice bone boxes (inside the body only) and body boxes of a (k, H, W) HU stack
    (any view; read slice by slice)."""
    step = max(1, int(round(SUBSAMPLE_MM / max(min(spacing_yx), 1e-3))))
    coarse, opening = body_grid(spacing_yx)
    factor = max(1, coarse // step)
    bones: list[Box | None] = []
    bodies: list[Box | None] = []
    for plane in planes:
        if cancel is not None and len(bones) % 32 == 0:
            cancel.raise_if_cancelled()
        body = body_mask_2d(plane, step * factor, opening)
        bodies.append(mask_box(body, step * factor, plane.shape))
        fine = np.repeat(np.repeat(body, factor, axis=0), factor, axis=1)
        h, w = -(-plane.shape[0] // step), -(-plane.shape[1] // step)
        bones.append(bone_box(plane, threshold_hu, step, fine[:h, :w]))
    return bones, bodies


def bone_boxes(
    planes: np.ndarray, spacing_yx: Sequence[float], threshold_hu: float, cancel: CancelToken | None = None
) -> list[Box | None]:
    """Per-slice boxes of the bones inside the body of a (k, H, W) HU stack."""
    return first_pass(planes, spacing_yx, threshold_hu, cancel)[0]


def touches_inner_edge(labels: np.ndarray, source: Box, plane: tuple[int, int], hu: np.ndarray | None = None) -> bool:
    """Whether a label lies on a window edge that is not the image's edge (on a pixel of at least
    :data:`DENSE_HU` when the CT ``hu`` of the window is given: a false label in air or soft
    tissue reaching the edge is no reason to run the slab again on a larger window)."""
    y0, y1, x0, x1 = source
    h, w = plane
    edges = []
    for inner, index in (
        (y0 > 0, np.s_[:, 0, :]),
        (y1 < h, np.s_[:, -1, :]),
        (x0 > 0, np.s_[:, :, 0]),
        (x1 < w, np.s_[:, :, -1]),
    ):
        if inner:
            edge = labels[index] > 0
            edges.append(edge if hu is None else edge & (hu[index] >= DENSE_HU))
    return any(bool(e.any()) for e in edges)


def dense_label_box(labels: np.ndarray, hu: np.ndarray) -> Box | None:
    """Box of the labelled pixels of at least :data:`DENSE_HU` in a (k, H, W) stack."""
    mask = ((labels > 0) & (hu >= DENSE_HU)).any(axis=0)
    return mask_box(mask, 1, mask.shape)


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


def intersect(a: Box, b: Box) -> Box:
    """The part of box ``a`` inside box ``b`` (``b`` itself when they do not meet)."""
    box = (max(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), min(a[3], b[3]))
    return box if box[0] < box[1] and box[2] < box[3] else b
