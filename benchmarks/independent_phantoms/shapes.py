"""Signed-distance-like primitives for the independent phantoms (EVALUATION ONLY, never training).

All functions take coordinate arrays (u, v, w) in millimetres of one bone's frame and
return an approximate signed distance (negative inside). Approximate is enough: the
label is the zero level set, and cortex / cartilage shells only need distances that are
right within a few millimetres of the surface.
"""

from __future__ import annotations

import numpy as np


def smooth_union(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum: joins two shapes with a fillet of about ``k`` mm, as bone flares."""
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1.0 - h) + a * h - k * h * (1.0 - h)


def smooth_subtract(a: np.ndarray, cut: np.ndarray, k: float) -> np.ndarray:
    """``a`` minus ``cut`` with a rounded edge (notches, grooves, concavities)."""
    return -smooth_union(-a, cut, k)


def ellipsoid(
    u: np.ndarray, v: np.ndarray, w: np.ndarray, centre: tuple[float, float, float], radii: tuple[float, float, float]
) -> np.ndarray:
    """Ellipsoid distance bound (Quilez's k0*(k0-1)/k1): good near the surface, cheap everywhere."""
    pu, pv, pw = (u - centre[0]) / radii[0], (v - centre[1]) / radii[1], (w - centre[2]) / radii[2]
    k0 = np.sqrt(pu * pu + pv * pv + pw * pw)
    k1 = np.sqrt((pu / radii[0]) ** 2 + (pv / radii[1]) ** 2 + (pw / radii[2]) ** 2)
    return k0 * (k0 - 1.0) / np.maximum(k1, 1e-6)


def superellipse_tube(u: np.ndarray, v: np.ndarray, half_u: np.ndarray, half_v: np.ndarray, power: float) -> np.ndarray:
    """2D superellipse distance in each cross-section (half widths may vary with height)."""
    r = (np.abs(u / half_u) ** power + np.abs(v / half_v) ** power) ** (1.0 / power)
    return (r - 1.0) * np.minimum(half_u, half_v)


def slab_cap(w: np.ndarray, low: float, high: float) -> np.ndarray:
    """Distance to the slab low <= w <= high (used to end shafts and tubes)."""
    return np.maximum(low - w, w - high)


def intersect(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Sharp intersection of two shapes."""
    return np.maximum(a, b)


def ramp(x: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    """Linear interpolation clamped at both ends: profiles of radius or cortex along a shaft."""
    t = np.clip((x - x0) / (x1 - x0), 0.0, 1.0)
    return y0 + (y1 - y0) * t


def coverage(distance: np.ndarray, pixel_mm: float) -> np.ndarray:
    """Fraction of a pixel inside a shape, from its distance (analytic in-plane partial volume)."""
    return np.clip(0.5 - distance / pixel_mm, 0.0, 1.0)
