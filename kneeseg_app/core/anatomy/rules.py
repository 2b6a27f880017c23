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
SHAFT_SLAB_MM = 2.0
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
    """Anatomical axis: a line through the centroids of 2 mm slabs across the diaphysis.

    The diaphysis starts :data:`SHAFT_START_MM` from the joint end of the bone (its lowest
    point for the femur, highest for the tibia) and ends where the scan cuts the bone; slabs
    touching the first or last slice are left out (a cut section has a biased centroid).
    The fit is repeated with slabs perpendicular to the new axis until it settles.
    """
    sup = unit(superior)
    fit = ShaftFit(cloud.inside.mean(axis=0), sup, 0.0, 0, 0.0)
    # the diaphysis moves little while the axis settles: keep only points that may be in it
    s0 = cloud.inside @ sup
    e0 = cloud.surface @ sup
    keep = s0 >= e0.min() + SHAFT_START_MM - 25.0 if proximal else s0 <= e0.max() - SHAFT_START_MM + 25.0
    candidates = cloud.inside[keep]
    for _ in range(4):
        s_inside = candidates @ sup
        s_surface = cloud.surface @ sup
        if proximal:  # femur: the shaft lies above the distal end
            start = s_surface.min() + SHAFT_START_MM
            chosen = s_inside >= start
        else:  # tibia: the shaft lies below the plateau
            start = s_surface.max() - SHAFT_START_MM
            chosen = s_inside <= start
        new = _slab_line(cloud, candidates[chosen], s_inside[chosen], sup)
        if new is None:
            return fit
        change = float(np.degrees(np.arccos(np.clip(abs(new.direction @ sup), -1, 1))))
        fit, sup = new, new.direction
        if change < 0.05:
            break
    return fit


def _slab_line(cloud: BoneCloud, points: np.ndarray, s: np.ndarray, sup: np.ndarray) -> ShaftFit | None:
    if len(points) < 50:
        return None
    bins = np.floor((s - s.min()) / SHAFT_SLAB_MM).astype(np.int64)
    at_end = cloud.near_scan_end(points)
    n_bins = int(bins.max()) + 1
    counts = np.bincount(bins, minlength=n_bins)
    cut = np.bincount(bins, weights=at_end.astype(np.float64), minlength=n_bins) > 0
    good = (counts >= 20) & ~cut
    if good.sum() < 2:
        return None
    sums = np.stack([np.bincount(bins, weights=points[:, i], minlength=n_bins) for i in range(3)], axis=1)
    centroids = sums[good] / counts[good, None]
    # keep the longest run of consecutive good slabs (a gap means another piece of bone)
    centre = centroids.mean(axis=0)
    _, _, vt = np.linalg.svd(centroids - centre, full_matrices=False)
    direction = vt[0] if vt[0] @ sup > 0 else -vt[0]
    along = (centroids - centre) @ direction
    resid = centroids - centre - along[:, None] * direction
    span = float(along.max() - along.min()) + SHAFT_SLAB_MM
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
