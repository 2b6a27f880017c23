"""Small geometric rules shared by the femur and tibia landmark definitions.

Each rule works on points already in a bone frame (columns l, p, s) and is written so that
it gives the same answer on a fine exact surface and on a label map's boundary: extreme
points are the centroid of a thin patch (not one arg-max voxel), sections are slabs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.anatomy.frame import BoneCloud, unit

SHAFT_START_MM = 55.0
"""The diaphysis starts this far from the joint surface (distal femur and proximal tibia flare above/below)."""
SHAFT_LENGTH_MM = 150.0
"""At most this much diaphysis is used (a long scan's proximal femur / distal tibia flare beyond it)."""
SHAFT_SLAB_MM = 2.0
"""Thinnest section used for the shaft axis (thicker slices: one slice per section)."""
MIN_SHAFT_SPAN_MM = 12.0


@dataclass(frozen=True)
class ShaftFit:
    """A bone's anatomical axis fitted to slab centroids of its diaphysis."""

    point: np.ndarray
    direction: np.ndarray
    span_mm: float
    slabs: int
    residual_mm: float

    @property
    def ok(self) -> bool:
        return self.span_mm >= MIN_SHAFT_SPAN_MM and self.slabs >= 4


def extreme_patch(local: np.ndarray, axis: int, sign: float, delta: float) -> np.ndarray | None:
    """Weighted centroid of the points within ``delta`` mm of the extreme along ``sign * axis``.

    Weights fall linearly from 1 at the extreme to 0 at ``delta``, so a point entering or
    leaving the patch moves the result continuously: on a flat prominence (an epicondyle)
    a 0.1 mm difference between two surfaces cannot make the landmark jump.
    """
    if len(local) == 0:
        return None
    values = sign * local[:, axis]
    top = values.max()
    near = values >= top - delta
    weights = (values[near] - (top - delta)) / delta
    return (local[near] * weights[:, None]).sum(axis=0) / max(float(weights.sum()), 1e-12)


def fit_shaft(cloud: BoneCloud, superior: np.ndarray, proximal: bool) -> ShaftFit:
    """Anatomical axis: a line through the centroids of the diaphysis' sections in the scan's slices.

    The diaphysis starts :data:`SHAFT_START_MM` from the joint end of the bone (its lowest
    point for the femur, highest for the tibia, along the current axis) and ends where the
    scan cuts the bone. Sections are cut along the slices (bins of one slice spacing, at least
    2 mm): a tilted cylinder's slice is an ellipse centred on its axis, and thick slices are
    never split. Sections touching the scan's ends or sides, or clipped by the diaphysis'
    start, are left out (a cut section has a biased centroid). Repeated until the axis settles.
    """
    sup = unit(superior)
    fit = ShaftFit(cloud.inside.mean(axis=0), sup, 0.0, 0, 0.0)
    s0 = cloud.inside @ sup
    e0 = cloud.surface @ sup
    keep = s0 >= e0.min() + SHAFT_START_MM - 25.0 if proximal else s0 <= e0.max() - SHAFT_START_MM + 25.0
    candidates = cloud.inside[keep]
    for _ in range(4):
        s_inside = candidates @ sup
        s_surface = cloud.surface @ sup
        if proximal:  # femur: the shaft lies above the distal end
            start = s_surface.min() + SHAFT_START_MM
            depth = s_inside - start
        else:  # tibia: the shaft lies below the plateau
            start = s_surface.max() - SHAFT_START_MM
            depth = start - s_inside
        chosen = (depth >= 0.0) & (depth <= SHAFT_LENGTH_MM)
        margin = np.minimum(depth[chosen], SHAFT_LENGTH_MM - depth[chosen])
        new = _section_line(cloud, candidates[chosen], margin, sup)
        if new is None:
            return fit
        change = float(np.degrees(np.arccos(np.clip(abs(new.direction @ sup), -1, 1))))
        fit, sup = new, new.direction
        if change < 0.05:
            break
    return fit


def _section_line(cloud: BoneCloud, points: np.ndarray, beyond: np.ndarray, sup: np.ndarray) -> ShaftFit | None:
    """Line through the centroids of whole sections (bins along the slice normal)."""
    if len(points) < 50:
        return None
    width = max(SHAFT_SLAB_MM, cloud.step_mm)
    pos = points @ cloud.scan_normal
    bins = np.floor((pos - pos.min()) / width + 0.5).astype(np.int64)
    n_bins = int(bins.max()) + 1
    counts = np.bincount(bins, minlength=n_bins)
    cut = np.bincount(bins, weights=cloud.near_scan_end(points).astype(np.float64), minlength=n_bins) > 0
    reach = np.full(n_bins, np.inf)
    np.minimum.at(reach, bins, beyond)  # a section reaching the diaphysis' start or end is clipped by it
    good = (counts >= 20) & ~cut & (reach >= 1.0)
    if good.sum() < 2:
        return None
    sums = np.stack([np.bincount(bins, weights=points[:, i], minlength=n_bins) for i in range(3)], axis=1)
    centroids = sums[good] / counts[good, None]
    centre = centroids.mean(axis=0)
    _, _, vt = np.linalg.svd(centroids - centre, full_matrices=False)
    direction = vt[0] if vt[0] @ sup > 0 else -vt[0]
    along = (centroids - centre) @ direction
    resid = centroids - centre - along[:, None] * direction
    span = float(along.max() - along.min()) + width
    return ShaftFit(centre, unit(direction), span, int(good.sum()), float(np.sqrt((resid**2).sum(axis=1).mean())))


def profile_peak(
    ml: np.ndarray, depth: np.ndarray, lo: float, hi: float, bin_mm: float = 1.0
) -> tuple[float, float] | None:
    """Where a profile (largest ``depth`` per ``ml`` bin) peaks between ``lo`` and ``hi``: (ml, depth).

    The peak is the vertex of a parabola fitted to the bins within 4 mm of the best bin, so
    it moves smoothly rather than jumping from bin to bin.
    """
    sel = (ml >= lo) & (ml <= hi)
    if sel.sum() < 10:
        return None
    edges = np.arange(lo, hi + bin_mm, bin_mm)
    idx = np.digitize(ml[sel], edges) - 1
    best = np.full(len(edges), -np.inf)
    np.maximum.at(best, idx, depth[sel])
    centres = edges + bin_mm / 2
    ok = np.isfinite(best)
    if ok.sum() < 5:
        return None
    i = int(np.argmax(np.where(ok, best, -np.inf)))
    near = ok & (np.abs(centres - centres[i]) <= 4.0)
    a, b, c = np.polyfit(centres[near], best[near], 2)
    if a >= 0:
        return float(centres[i]), float(best[i])
    x = float(np.clip(-b / (2 * a), centres[i] - 4.0, centres[i] + 4.0))
    return x, float(np.polyval([a, b, c], x))
