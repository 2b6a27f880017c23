"""Signed-distance building blocks for the synthetic knee phantom (float32, millimetres).

Negative inside, positive outside. Shapes are combined with smooth minima (Quilez's
polynomial smooth min) because bones have fillets, not creases. Only the few millimetres
around each surface have to be distance-like: the renderer uses the value for partial
volume and cortical thickness, and :func:`normalise` repairs the slope of shapes whose
formula is only roughly a distance.
"""

from __future__ import annotations

import numpy as np

Array = np.ndarray
EPS = np.float32(1e-6)


def smin(a: Array, b: Array, k: float) -> Array:
    """Smooth union: like ``min`` but blended over ``k`` mm (a fillet)."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(0.5 + (0.5 / k) * (b - a), 0.0, 1.0)
    return b + (a - b) * h - k * h * (1.0 - h)


def smax(a: Array, b: Array, k: float) -> Array:
    """Smooth intersection (or, with ``-b``, smooth subtraction)."""
    return -smin(-a, -b, k)


def ellipse(x: Array, y: Array, a: Array | float, b: Array | float) -> Array:
    """Approximate distance to an axis-aligned ellipse (exact on the axes, good near it)."""
    k0 = np.sqrt((x / a) ** 2 + (y / b) ** 2)
    k1 = np.sqrt((x / (a * a)) ** 2 + (y / (b * b)) ** 2)
    return k0 * (k0 - 1.0) / (k1 + EPS)


def ellipsoid(x: Array, y: Array, z: Array, rx: float, ry: float, rz: float) -> Array:
    """Approximate distance to an axis-aligned ellipsoid centred at the origin."""
    k0 = np.sqrt((x / rx) ** 2 + (y / ry) ** 2 + (z / rz) ** 2)
    k1 = np.sqrt((x / (rx * rx)) ** 2 + (y / (ry * ry)) ** 2 + (z / (rz * rz)) ** 2)
    return k0 * (k0 - 1.0) / (k1 + EPS)


def segment_distance_2d(x: Array, y: Array, a: tuple[float, float], b: tuple[float, float]) -> Array:
    """Distance from points (x, y) to the segment a-b."""
    bax, bay = b[0] - a[0], b[1] - a[1]
    pax, pay = x - a[0], y - a[1]
    t = np.clip((pax * bax + pay * bay) * (1.0 / (bax * bax + bay * bay)), 0.0, 1.0)
    return np.sqrt((pax - bax * t) ** 2 + (pay - bay * t) ** 2)


def segment_parts(x: Array, y: Array, z: Array, a: np.ndarray, b: np.ndarray) -> tuple[Array, Array, Array, Array]:
    """Offset (dx, dy, dz) from the closest point of segment a-b, and the position t along it."""
    ba = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    denom = float(ba @ ba)
    bx, by, bz = (float(c) for c in ba)
    px, py, pz = x - float(a[0]), y - float(a[1]), z - float(a[2])
    t = np.clip((px * bx + py * by + pz * bz) * (1.0 / denom), 0.0, 1.0)
    return px - bx * t, py - by * t, pz - bz * t, t


def capsule(x: Array, y: Array, z: Array, a: np.ndarray, b: np.ndarray, r0: float, r1: float | None = None) -> Array:
    """Distance to a capsule (a rounded rod) from a to b, radius r0 tapering to r1."""
    dx, dy, dz, t = segment_parts(x, y, z, a, b)
    radius = r0 if r1 is None else r0 + (r1 - r0) * t
    return np.sqrt(dx * dx + dy * dy + dz * dz) - radius


def band(
    x: Array,
    y: Array,
    z: Array,
    a: np.ndarray,
    b: np.ndarray,
    width_axis: np.ndarray,
    half_width: float,
    half_thickness: float,
) -> Array:
    """Distance to a flat strap (a tendon) from a to b, ``half_width`` wide along ``width_axis``."""
    dx, dy, dz, _ = segment_parts(x, y, z, a, b)
    ax, ay, az = (float(c) for c in width_axis)
    along = dx * ax + dy * ay + dz * az
    across2 = np.maximum(dx * dx + dy * dy + dz * dz - along * along, 0.0)
    excess = np.maximum(np.abs(along) - (half_width - half_thickness), 0.0)
    return np.sqrt(excess * excess + across2) - half_thickness


def normalise(f: Array, spacing_zyx: tuple[float, float, float], floor: float = 0.3) -> Array:
    """Divide an implicit function by its gradient length so it reads as millimetres of distance.

    The first-order correction ``f / |grad f|`` makes any smooth implicit surface usable as a
    signed distance near the surface, where the renderer needs it.
    """
    grads = np.gradient(f, *spacing_zyx) if min(f.shape) > 1 else _gradient_thin(f, spacing_zyx)
    norm2 = grads[0] * grads[0]
    for g in grads[1:]:
        norm2 += g * g
    return (f / np.maximum(np.sqrt(norm2), floor)).astype(np.float32, copy=False)


def _gradient_thin(f: Array, spacing_zyx: tuple[float, float, float]) -> list[Array]:
    grads = []
    for axis, step in enumerate(spacing_zyx):
        if f.shape[axis] > 1:
            grads.append(np.gradient(f, step, axis=axis))
    return grads or [np.ones_like(f)]


def ramp(sdf: Array, width: float) -> Array:
    """Fraction of a voxel inside a surface (linear partial-volume model)."""
    return np.clip(0.5 - sdf * (1.0 / width), 0.0, 1.0)


def smoothstep(x: Array, lo: float, hi: float) -> Array:
    """0 below ``lo``, 1 above ``hi``, smooth in between."""
    t = np.clip((x - lo) * (1.0 / (hi - lo)), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
