"""Which knee is which: split a label map into the patient's right and left knee.

In a scan of both knees the bones form two groups on either side of the body's midline;
LPS x grows towards the patient's left, so the group at smaller x is the right knee. A
single knee's side is read from the CT when there is one (the fibula lies lateral to the
tibia), else from the femorotibial angle (the femoral shaft leans laterally), and said to
be uncertain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kneeseg_app.core.volume import Volume

FEMUR, TIBIA = 1, 2
MIN_SHARE = 0.2
"""A bone piece counts as a knee's bone when it holds this share of the largest piece's voxels."""


@dataclass(frozen=True)
class KneeRegion:
    """One knee's voxels: a boolean mask per bone on a crop of the label grid."""

    side: str | None
    femur: np.ndarray | None
    tibia: np.ndarray | None
    offset_zyx: np.ndarray
    how: str


def _bbox(mask: np.ndarray) -> tuple[slice, ...] | None:
    """Bounding box of the True voxels (projections: far faster than labelling the volume)."""
    out = []
    for axis in range(3):
        other = tuple(a for a in range(3) if a != axis)
        hit = np.flatnonzero(mask.any(axis=other))
        if hit.size == 0:
            return None
        out.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(out)


@dataclass(frozen=True)
class Piece:
    """One connected piece of one bone: its label value, box in the crop, mask in that box, centroid."""

    value: int
    box: tuple[slice, ...]
    mask: np.ndarray
    centroid: np.ndarray


def split_knees(labels: Volume) -> list[KneeRegion]:
    """One region per knee (sides decided for two knees, left None for one)."""
    array = labels.array
    box = _bbox(array > 0)
    if box is None:
        return []
    crop = array[box]
    offset = np.array([s.start for s in box], dtype=np.float64)
    pieces = _pieces(crop)
    if not pieces:
        return []
    xs = np.array([labels.index_to_lps(offset + p.centroid)[0] for p in pieces])
    groups = _two_groups(xs, pieces)
    if groups is None:
        return [_region(offset, pieces, None, "one knee in the scan")]
    right, left = groups
    how = "two knees: the one at the patient's right (smaller LPS x) is the right knee"
    return [
        _region(offset, [pieces[i] for i in right], "right", how),
        _region(offset, [pieces[i] for i in left], "left", how),
    ]


def _pieces(crop: np.ndarray) -> list[Piece]:
    """Connected bone pieces holding at least :data:`MIN_SHARE` of their bone's largest piece."""
    out = []
    for value in (FEMUR, TIBIA):
        comp, n = ndimage.label(crop == value)
        if n == 0:
            continue
        sizes = np.bincount(comp.ravel())
        sizes[0] = 0
        boxes = ndimage.find_objects(comp)
        for index in np.flatnonzero(sizes >= MIN_SHARE * sizes.max()):
            box = boxes[index - 1]
            mask = comp[box] == index
            idx = np.argwhere(mask[:, ::4, ::4]) * np.array([1, 4, 4])
            start = np.array([s.start for s in box], dtype=np.float64)
            out.append(Piece(value, box, mask, start + idx.mean(axis=0)))
    return out


def _two_groups(xs: np.ndarray, pieces: list[Piece]) -> tuple[list[int], list[int]] | None:
    """Split the pieces at the widest x gap when it is a real separation (two knees)."""
    femurs = [p for p in pieces if p.value == FEMUR]
    tibias = [p for p in pieces if p.value == TIBIA]
    if len(femurs) < 2 and len(tibias) < 2:
        return None
    order = np.argsort(xs)
    gaps = np.diff(xs[order])
    cut = int(np.argmax(gaps))
    if gaps[cut] < 40.0:
        return None
    right = [int(i) for i in order[: cut + 1]]
    left = [int(i) for i in order[cut + 1 :]]
    return right, left


def _region(offset: np.ndarray, pieces: list[Piece], side: str | None, how: str) -> KneeRegion:
    lo = np.min([[s.start for s in p.box] for p in pieces], axis=0)
    hi = np.max([[s.stop for s in p.box] for p in pieces], axis=0)
    masks: dict[int, np.ndarray | None] = {FEMUR: None, TIBIA: None}
    for p in pieces:
        if masks[p.value] is None:
            masks[p.value] = np.zeros(tuple(hi - lo), bool)
        target = tuple(slice(s.start - a, s.stop - a) for s, a in zip(p.box, lo))
        masks[p.value][target] |= p.mask
    return KneeRegion(side, masks[FEMUR], masks[TIBIA], offset + lo, how)


def fibula_side(ct: Volume, labels: Volume, region: KneeRegion, lateral_sign_x: float = 1.0) -> str | None:
    """'left'/'right' from the fibula: bright bone behind the tibia, not labelled, 10-70 mm below its top.

    Returns None when no such bone is found.
    """
    if region.tibia is None or not ct.same_grid(labels):
        return None
    tib_idx = np.argwhere(region.tibia)
    if len(tib_idx) == 0:
        return None
    tib_world = labels.index_to_lps(tib_idx[:: max(len(tib_idx) // 20000, 1)] + region.offset_zyx)
    top_z = tib_world[:, 2].max()
    lo = np.floor(tib_idx.min(axis=0) + region.offset_zyx).astype(int)
    hi = np.ceil(tib_idx.max(axis=0) + region.offset_zyx).astype(int) + 1
    pad = (np.array([0, 25, 25]) / np.asarray(labels.spacing_zyx)).astype(int)
    lo, hi = np.maximum(lo - pad, 0), np.minimum(hi + pad, np.asarray(labels.shape))
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    bone = (ct.array[box] > 250) & (labels.array[box] == 0)
    bone = ndimage.binary_opening(bone, iterations=1)
    idx = np.argwhere(bone)
    if len(idx) < 30:
        return None
    world = labels.index_to_lps(idx + lo)
    tib_centre = tib_world.mean(axis=0)
    keep = (world[:, 2] < top_z - 10) & (world[:, 2] > top_z - 70) & (world[:, 1] > tib_centre[1])
    if keep.sum() < 30:
        return None
    dx = float(np.median(world[keep, 0]) - tib_centre[0])
    if abs(dx) < 5.0:
        return None
    # the fibula is lateral: at larger x (patient's left) for a left knee
    return "left" if dx > 0 else "right"
