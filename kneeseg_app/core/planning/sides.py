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
    found = ndimage.find_objects(mask.astype(np.uint8))
    return found[0] if found and found[0] is not None else None


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
    xs = np.array([labels.index_to_lps(offset + p[2])[0] for p in pieces])
    groups = _two_groups(xs, pieces)
    if groups is None:
        return [_region(crop, offset, pieces, None, "one knee in the scan")]
    right, left = groups
    how = "two knees: the one at the patient's right (smaller LPS x) is the right knee"
    return [_region(crop, offset, [pieces[i] for i in right], "right", how), _region(crop, offset, [pieces[i] for i in left], "left", how)]


def _pieces(crop: np.ndarray) -> list[tuple[int, np.ndarray, np.ndarray]]:
    """Connected bone pieces (label, mask, centroid index) above the size share, per bone."""
    out = []
    for value in (FEMUR, TIBIA):
        mask = crop == value
        comp, n = ndimage.label(mask)
        if n == 0:
            continue
        sizes = np.bincount(comp.ravel())[1:]
        keep = np.nonzero(sizes >= MIN_SHARE * sizes.max())[0] + 1
        centroids = ndimage.center_of_mass(mask, comp, keep)
        for index, centre in zip(keep, centroids):
            out.append((value, comp == index, np.asarray(centre)))
    return out


def _two_groups(xs: np.ndarray, pieces: list) -> tuple[list[int], list[int]] | None:
    """Split the pieces at the widest x gap when it is a real separation (two knees)."""
    femurs = [i for i, p in enumerate(pieces) if p[0] == FEMUR]
    tibias = [i for i, p in enumerate(pieces) if p[0] == TIBIA]
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


def _region(crop: np.ndarray, offset: np.ndarray, pieces: list, side: str | None, how: str) -> KneeRegion:
    masks = {}
    for value in (FEMUR, TIBIA):
        mine = [p[1] for p in pieces if p[0] == value]
        masks[value] = np.logical_or.reduce(mine) if mine else None
    present = [m for m in masks.values() if m is not None]
    box = _bbox(np.logical_or.reduce(present))
    sub = {v: (None if m is None else np.ascontiguousarray(m[box])) for v, m in masks.items()}
    start = offset + np.array([s.start for s in box], dtype=np.float64)
    return KneeRegion(side, sub[FEMUR], sub[TIBIA], start, how)


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
