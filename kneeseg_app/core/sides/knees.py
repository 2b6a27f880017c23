"""Which knee is which: split a label map into the patient's right and left knee.

In a scan of both knees the bones form two groups on either side of the body's midline;
LPS x grows towards the patient's left, so the group at smaller x is the right knee. The
two groups are told apart once, here, for the landmarks (:mod:`kneeseg_app.core.planning`)
and for the per-side volumes, meshes and metrics (:mod:`kneeseg_app.core.sides.parts`).
A single knee's side is decided elsewhere (:mod:`kneeseg_app.core.sides.single`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kneeseg_app.core.labels import FEMUR, LEFT, RIGHT, TIBIA
from kneeseg_app.core.volume import Volume

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


def bounding_box(mask: np.ndarray) -> tuple[slice, ...] | None:
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
    box = bounding_box(array > 0)
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
    return [
        _region(offset, [pieces[i] for i in right], RIGHT, TWO_KNEES_HOW),
        _region(offset, [pieces[i] for i in left], LEFT, TWO_KNEES_HOW),
    ]


TWO_KNEES_HOW = "two knees: the one at the patient's right (smaller LPS x) is the right knee"
MIN_KNEE_GAP_MM = 40.0
"""Two groups of bone pieces further apart than this along LPS x are two knees."""


def knee_midline(labels: Volume, step_mm: float = 1.5) -> float | None:
    """The LPS x of the plane between two knees (None for one knee or none).

    The decision of :func:`split_knees`, made on a grid thinned to about ``step_mm``:
    centroids need millimetres, not every voxel, and a 512 x 512 x 600 scan then costs
    a fraction of a second.
    """
    strides = tuple(max(1, int(step_mm // s)) for s in labels.spacing_zyx)
    thin = labels.array[:: strides[0], :: strides[1], :: strides[2]]
    box = bounding_box(thin > 0)
    if box is None:
        return None
    pieces = _pieces(thin[box])
    if not pieces:
        return None
    offset = np.array([s.start for s in box], dtype=np.float64)
    xs = np.array([labels.index_to_lps((offset + p.centroid) * np.array(strides))[0] for p in pieces])
    groups = _two_groups(xs, pieces)
    if groups is None:
        return None
    right, left = groups
    return float((xs[right].max() + xs[left].min()) / 2.0)


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
            if len(idx) == 0:  # a piece thinner than the sampling step
                idx = np.argwhere(mask)
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
    if gaps[cut] < MIN_KNEE_GAP_MM:
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
