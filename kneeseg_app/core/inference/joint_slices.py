"""Where a leg's femur ends and its tibia begins, slice by slice, when the network's labels disagree.

Slices are ordered along the body axis; counts are each slice's femur and tibia voxels of one
leg (or one piece of bone). Used by the anatomy rule (bone_layout.py).
"""

from __future__ import annotations

import numpy as np

SWAP_ZONE_MM = 30.0
"""The joint of a piece that holds both bones is looked for this far from where its labels change."""

PURE_SLICE = 0.9
"""A slice of a piece is one bone's when this share of its voxels has that label."""

WAIST_REACH_MM = 30.0
"""A waist of the bone is narrower than its widest slice within this distance above and below it
(condyles above the joint space, the plateau below it)."""

WAIST_DOMINANCE = 3.0
"""A waist far from the label change is taken as the joint only when it is this many times deeper
than any narrowing elsewhere in the piece."""


def joint_split(femur_counts: np.ndarray, tibia_counts: np.ndarray, between: tuple[int, int] | None = None) -> int:
    """Number of top items (ordered superior to inferior) to call femur: the split that disagrees
    least with the network's labels (femur voxels below plus tibia voxels above). ``between``
    (i, j) forces item i to be femur and item j tibia (the femur lies above the tibia)."""
    above_tibia = np.concatenate([[0], np.cumsum(tibia_counts)])
    below_femur = np.concatenate([np.cumsum(femur_counts[::-1])[::-1], [0]])
    cost = above_tibia + below_femur
    if between is None:
        return int(np.argmin(cost))
    lo, hi = between[0] + 1, between[1]
    return lo + int(np.argmin(cost[lo : hi + 1]))


def swapped_slices(
    femur_counts: np.ndarray, tibia_counts: np.ndarray, slice_mm: float
) -> tuple[np.ndarray, np.ndarray]:
    """Slices (ordered inferior to superior) of one leg's bone whose label is the wrong bone's.

    The joint is the deepest narrowing of the bone (wider above and below) within
    :data:`SWAP_ZONE_MM` of the label change; a slice of the piece that is all tibia above it, or
    all femur below it, is swapped, however far from the joint (a band of the tibial shaft called
    femur 40 mm below a flexed knee's joint belongs to the tibia it is joined to).
    Returns masks of slices to make femur and to make tibia.
    """
    area = femur_counts + tibia_counts
    n = len(area)
    split = joint_split(femur_counts[::-1], tibia_counts[::-1])  # superior first, as joint_split wants
    change = n - split
    zone = max(1, int(round(SWAP_ZONE_MM / slice_mm)))
    lo, hi = max(change - zone, 0), min(change + zone, n)
    smooth = np.convolve(area.astype(float), np.array([0.25, 0.5, 0.25]), mode="same")
    candidates = np.arange(lo, hi)
    candidates = candidates[area[lo:hi] > 0]
    if candidates.size == 0:
        empty = np.zeros(n, dtype=bool)
        return empty, empty
    running_max_below = np.maximum.accumulate(smooth)
    running_max_above = np.maximum.accumulate(smooth[::-1])[::-1]
    dip = np.minimum(running_max_below, running_max_above) - smooth
    joint = int(candidates[np.argmax(dip[candidates])])
    waist = dominant_waist(smooth, slice_mm)
    if waist is not None and abs(waist - joint) > zone:
        joint = waist  # the labels changed in the wrong place (a long band of the other bone's label)
    index = np.arange(n)
    bone = area > 0
    to_femur = bone & (index > joint) & (tibia_counts >= PURE_SLICE * area)
    to_tibia = bone & (index < joint) & (femur_counts >= PURE_SLICE * area)
    return to_femur, to_tibia


def waist_depths(smooth_area: np.ndarray, slice_mm: float) -> np.ndarray:
    """Per slice, how much narrower the bone is than its widest slices within :data:`WAIST_REACH_MM`
    on both sides (0 where it is not narrower on both): deep at a joint space between condyles and
    plateau, shallow along a shaft, whose width changes slowly."""
    below, above = widest_around(smooth_area, max(1, int(round(WAIST_REACH_MM / slice_mm))))
    depth = np.minimum(below, above) - smooth_area
    return np.where(smooth_area > 0, np.maximum(depth, 0.0), 0.0)


def widest_around(profile: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """Per index, the largest value among the ``reach`` just before it and among the ``reach`` just after
    it (the ends padded with the end values): how wide the bone is on each side of a slice."""
    padded = np.pad(profile, reach, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * reach + 1)
    return windows[:, :reach].max(axis=1), windows[:, reach + 1 :].max(axis=1)


def dominant_waist(smooth_area: np.ndarray, slice_mm: float) -> int | None:
    """The slice of the piece's one clear waist, or None: the deepest waist, when it is
    :data:`WAIST_DOMINANCE` times deeper than the deepest farther than :data:`WAIST_REACH_MM` from it.

    On a hip-to-ankle scan (5 mm slices, grade 3 OA) the network called 125 mm of proximal tibia
    "femur" under a plateau it labelled right: the labels' least-disagreement change lay at the
    band's bottom, far from the joint, and the plateau was swapped to femur. The joint space is the
    one place where a leg's bone is much narrower than the bone just above and just below it."""
    depth = waist_depths(smooth_area, slice_mm)
    if not depth.any():
        return None
    waist = int(np.argmax(depth))
    reach = max(1, int(round(WAIST_REACH_MM / slice_mm)))
    far = np.abs(np.arange(len(depth)) - waist) > reach
    rival = float(depth[far].max()) if far.any() else 0.0
    return waist if depth[waist] >= WAIST_DOMINANCE * rival else None
