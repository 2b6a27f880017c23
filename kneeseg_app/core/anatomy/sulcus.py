"""The medial epicondylar sulcus, the medial end of the surgical transepicondylar axis.

The surgical TEA runs from the lateral epicondyle to the medial sulcus: a small depression
(3-6 mm wide, 1-2 mm deep) just posterior and distal of the medial epicondyle's prominence,
where the deep medial collateral ligament attaches. It is sought on the medial surface seen
as a height map: looking along the clinical TEA from medial, over 1 mm cells of the plane
perpendicular to it (posterior ``q``, superior ``s``), the outer surface of each cell (the
mean of its points within 0.75 mm of the outermost: a voxel step is not a dent), lightly
smoothed. Cells standing out beyond the epicondyle are osteophytes and are left out.

A dent is told from the bone's own curvature and from voxel steps by a matched filter: in
the 6 mm disc around each cell a quadric plus a Gaussian dent (sigma 2 mm) is fitted by
least squares, cells far off the fit (a ridge or an osteophyte at the disc's edge) down-
weighted (Tukey, 3 rounds); the dent's coefficient is its depth. The quadric absorbs the
epicondyle's dome and any tilt, so a depth is a local concavity, not the slope of the
surface. The sulcus is the deepest dent from 2 mm anterior to 12 mm posterior and from
9 mm distal to 4 mm proximal of the prominence (more distally the epicondyle meets the
condyle in a concave fillet), at least 14 mm above the distal condylar level; shallower than
:data:`MIN_DEPTH_MM` or than :data:`MIN_CONTRAST` times the surface's spread about the fit
(the robust residual scale), it is "not discernible".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

L, P, S = 0, 1, 2
MIN_DEPTH_MM = 0.5
MIN_CONTRAST = 6.0
"""A sulcus is a dent at least this deep and this many times the spread of the surface about
the fit (voxel steps, waviness): on sulcus-free phantom labels the deepest dent in the window
is 0.3-0.6 mm at 2-6 times the spread, a drawn 1-2 mm sulcus 0.5-1.3 mm at 6-19 times."""
CELL_MM = 1.0
OUTER_MM = 0.75
SMOOTH_CELLS = 0.7
DENT_SIGMA_MM = 2.0
DISC_CELLS = 6
MIN_COVER = 0.7
"""Share of a disc's cells that must hold surface for its fit to count."""
ROBUST_ROUNDS = 3
TUKEY_C = 4.685
PROUD_MM = 0.3
INSIDE_MM = 4.0
SEARCH_Q_MM = (-2.0, 12.0)
"""Posterior of the medial epicondyle's prominence (perpendicular to the TEA, in the axial plane)."""
SEARCH_S_MM = (-9.0, 4.0)
"""Along the shaft axis from the prominence (negative = distal)."""
ABOVE_DISTAL_MM = 14.0
NOT_DISCERNIBLE = "sulcus not discernible: clinical TEA used"


@dataclass(frozen=True)
class Sulcus:
    """The sulcus (femur-frame point, or None), the depth of the deepest dent found and why."""

    point: np.ndarray | None
    depth_mm: float
    note: str


def _disc_design() -> tuple[np.ndarray, np.ndarray]:
    """Cell offsets of a disc and its design matrix (quadric, then minus a Gaussian: the depth)."""
    r = DISC_CELLS
    offsets = np.argwhere(np.hypot(*np.mgrid[-r : r + 1, -r : r + 1]) <= r + 1e-9) - r
    x, y = offsets[:, 0] * CELL_MM, offsets[:, 1] * CELL_MM
    gauss = np.exp(-(x * x + y * y) / (2 * DENT_SIGMA_MM**2))
    return offsets, np.stack([np.ones_like(x), x, y, x * x, x * y, y * y, -gauss], axis=1)


OFFSETS, DESIGN = _disc_design()


def _height_map(q: np.ndarray, s: np.ndarray, h: np.ndarray, lo: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The outer surface's height per cell (NaN where empty or standing out beyond the epicondyle)."""
    iq = np.floor((q - lo[0]) / CELL_MM).astype(np.int64)
    js = np.floor((s - lo[1]) / CELL_MM).astype(np.int64)
    ok = (iq >= 0) & (iq < shape[0]) & (js >= 0) & (js < shape[1])
    iq, js, h = iq[ok], js[ok], h[ok]
    top = np.full(shape, -np.inf)
    np.maximum.at(top, (iq, js), h)
    outer = h >= top[iq, js] - OUTER_MM
    total, count = np.zeros(shape), np.zeros(shape)
    np.add.at(total, (iq[outer], js[outer]), h[outer])
    np.add.at(count, (iq[outer], js[outer]), 1.0)
    grid = np.where(count > 0, total / np.maximum(count, 1.0), np.nan)
    # beyond the epicondyle: an osteophyte; far inside it: the condyle below or the back of the
    # metaphysis, not the epicondyle's face (its edges and fillets are no sulcus)
    grid[(grid > PROUD_MM) | (grid < -INSIDE_MM)] = np.nan
    valid = ~np.isnan(grid)
    share = ndimage.gaussian_filter(valid.astype(np.float64), SMOOTH_CELLS)
    smooth = ndimage.gaussian_filter(np.where(valid, grid, 0.0), SMOOTH_CELLS) / np.maximum(share, 1e-6)
    return np.where(valid, smooth, np.nan)


def _dent_depths(grid: np.ndarray, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Robust dent depth (mm) of the disc around each of ``cells`` (k, 2), NaN where too little
    surface, and the spread of the surface about the fit (mm): how far the rest of it wanders."""
    ii = cells[:, None, 0] + OFFSETS[None, :, 0]
    jj = cells[:, None, 1] + OFFSETS[None, :, 1]
    inside = (ii >= 0) & (ii < grid.shape[0]) & (jj >= 0) & (jj < grid.shape[1])
    values = grid[np.clip(ii, 0, grid.shape[0] - 1), np.clip(jj, 0, grid.shape[1] - 1)]
    has = inside & ~np.isnan(values)
    values = np.where(has, values, 0.0)
    weights = has.astype(np.float64)
    n = DESIGN.shape[1]
    for round_ in range(ROBUST_ROUNDS + 1):
        normal = np.einsum("km,mi,mj->kij", weights, DESIGN, DESIGN) + 1e-9 * np.eye(n)
        coef = np.linalg.solve(normal, np.einsum("km,mi,km->ki", weights, DESIGN, values)[..., None])[..., 0]
        if round_ == ROBUST_ROUNDS:
            break
        resid = values - coef @ DESIGN.T
        scale = np.sqrt((weights * resid**2).sum(axis=1) / np.maximum(weights.sum(axis=1) - n, 1.0))
        u = resid / (TUKEY_C * np.maximum(scale, 0.1))[:, None]
        weights = has * np.where(np.abs(u) < 1.0, (1.0 - u * u) ** 2, 0.0)
    return np.where(has.mean(axis=1) >= MIN_COVER, coef[:, -1], np.nan), scale


def _vertex(values: np.ndarray, i: int) -> float:
    """Sub-cell position of a peak from its two neighbours (parabola vertex)."""
    if i <= 0 or i >= len(values) - 1 or not np.all(np.isfinite(values[i - 1 : i + 2])):
        return float(i)
    a, b, c = values[i - 1], values[i], values[i + 1]
    denom = a - 2 * b + c
    return float(i) if denom >= 0 else float(i + np.clip(0.5 * (a - c) / denom, -0.5, 0.5))


def medial_sulcus(local: np.ndarray, medial: np.ndarray, lateral: np.ndarray, s0: float) -> Sulcus:
    """Find the sulcus on the femur surface ``local`` (femur frame) near the medial epicondyle ``medial``."""
    tea = np.asarray(lateral - medial, dtype=np.float64)[[L, P]]
    tea /= max(float(np.linalg.norm(tea)), 1e-12)
    back = np.array([-tea[1], tea[0]])  # perpendicular to the TEA, pointing posteriorly
    rel = local - medial
    h, q, s = -(rel[:, [L, P]] @ tea), rel[:, [L, P]] @ back, rel[:, S]
    pad = (DISC_CELLS + 2) * CELL_MM
    lo = np.array([SEARCH_Q_MM[0] - pad, SEARCH_S_MM[0] - pad])
    hi = np.array([SEARCH_Q_MM[1] + pad, SEARCH_S_MM[1] + pad])
    near = (h > -12.0) & (q >= lo[0]) & (q < hi[0]) & (s >= lo[1]) & (s < hi[1])
    if near.sum() < 50:
        return Sulcus(None, 0.0, f"{NOT_DISCERNIBLE} (no medial surface near the epicondyle)")
    shape = tuple(int(n) for n in np.ceil((hi - lo) / CELL_MM))
    grid = _height_map(q[near], s[near], h[near], lo, shape)
    centres_q = lo[0] + (np.arange(shape[0]) + 0.5) * CELL_MM
    centres_s = lo[1] + (np.arange(shape[1]) + 0.5) * CELL_MM
    in_q = (centres_q >= SEARCH_Q_MM[0]) & (centres_q <= SEARCH_Q_MM[1])
    in_s = (centres_s >= SEARCH_S_MM[0]) & (centres_s <= SEARCH_S_MM[1])
    in_s &= centres_s + medial[S] >= s0 + ABOVE_DISTAL_MM
    cells = np.argwhere(in_q[:, None] & in_s[None, :])
    depth, spread = np.full(shape, -np.inf), np.full(shape, np.inf)
    if len(cells):
        found, scale = _dent_depths(grid, cells)
        depth[cells[:, 0], cells[:, 1]] = np.where(np.isnan(found), -np.inf, found)
        spread[cells[:, 0], cells[:, 1]] = scale
    if not np.isfinite(depth).any():
        return Sulcus(None, 0.0, f"{NOT_DISCERNIBLE} (too little medial surface around the epicondyle)")
    i, j = np.unravel_index(int(np.argmax(depth)), shape)
    best, noise = float(depth[i, j]), float(spread[i, j])
    if best < MIN_DEPTH_MM or best < MIN_CONTRAST * noise:
        return Sulcus(
            None,
            best,
            f"{NOT_DISCERNIBLE} (deepest dent {best:.2f} mm, needs {MIN_DEPTH_MM} mm and {MIN_CONTRAST:.0f} times"
            f" the surface's own spread, {noise:.2f} mm)",
        )
    fi, fj = _vertex(depth[:, j], i), _vertex(depth[i, :], j)
    filled = np.where(np.isnan(grid), np.nanmin(grid), grid)
    floor = float(ndimage.map_coordinates(filled, [[fi], [fj]], order=1)[0])
    cq, cs = lo[0] + (fi + 0.5) * CELL_MM, lo[1] + (fj + 0.5) * CELL_MM
    lp = -floor * tea + cq * back
    return Sulcus(
        medial + np.array([lp[0], lp[1], cs]), best, f"dent {best:.2f} mm deep ({best / noise:.0f} times the spread)"
    )
