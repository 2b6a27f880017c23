"""Femur, tibia, fibula and patella as implicit surfaces (EVALUATION ONLY, never training).

Each function takes points in the bone's own frame (template millimetres: u lateral,
v anterior, w superior, joint centre at the origin) and returns a signed distance
(negative inside). Femur: a curved, bowed superelliptic shaft flaring into two
ellipsoidal condyles and a trochlear block, with an intercondylar notch and a trochlear
groove cut out. Tibia: a posteriorly sloped elliptic plateau slab whose height differs
medially and laterally (joint space), two tibial-spine eminences, a flaring metaphysis, a
tuberosity and a shaft. Osteoarthritis adds marginal osteophytes.
"""

from __future__ import annotations

import numpy as np

from benchmarks.independent_phantoms.frames import BoneFrame
from benchmarks.independent_phantoms.params import Disease
from benchmarks.independent_phantoms.shapes import (
    ellipsoid,
    intersect,
    slab_cap,
    smooth_subtract,
    smooth_union,
    superellipse_tube,
)

SHAFT_END_MM = 520.0
CONDYLES = ((-21.0, -6.0, 22.0, 15.0, 26.0, 22.0), (21.0, -5.0, 22.0, 15.5, 25.0, 21.0))
"""(u, v, w, ru, rv, rw) of the medial (u < 0) and lateral condyles."""


def _flare(w: np.ndarray, start: float, width: float) -> np.ndarray:
    """1 at the joint end, falling smoothly to 0 along the shaft (metaphyseal flare)."""
    beyond = np.maximum(np.abs(w) - start, 0.0)
    return np.exp(-(beyond * beyond) / (2.0 * width * width))


def femur_shaft_centre(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(u, v) of the femoral shaft centre: leans laterally toward the hip and bows anteriorly."""
    lean = 0.11 * np.maximum(w - 30.0, 0.0)
    bow = 6.0 * np.sin(np.pi * np.clip((w - 60.0) / 420.0, 0.0, 1.0))
    return lean, bow


def femur(f: BoneFrame, disease: Disease, wobble: np.ndarray) -> np.ndarray:
    """Distance to the femur (template mm)."""
    g = _flare(f.w, 20.0, 28.0)
    cu, cv = femur_shaft_centre(f.w)
    shaft = superellipse_tube(f.u - cu, f.v - cv - 2.0 * g, 14.0 + 25.0 * g, 13.5 + 15.0 * g, 2.4)
    d = intersect(shaft, slab_cap(f.w, 14.0, SHAFT_END_MM))
    for cu_, cv_, cw_, ru, rv, rw in CONDYLES:
        d = smooth_union(d, ellipsoid(f.u, f.v, f.w, (cu_, cv_, cw_), (ru, rv, rw)), 8.0)
    d = smooth_union(d, ellipsoid(f.u, f.v, f.w, (0.0, 10.0, 34.0), (31.0, 20.0, 26.0)), 6.0)
    for side in (-1.0, 1.0):  # epicondyles
        d = smooth_union(d, ellipsoid(f.u, f.v, f.w, (side * 38.0, -4.0, 30.0), (6.0, 12.0, 10.0)), 4.0)
    d = smooth_subtract(d, ellipsoid(f.u, f.v, f.w, (0.0, -14.0, 6.0), (9.5, 26.0, 19.0)), 3.0)
    d = smooth_subtract(d, ellipsoid(f.u, f.v, f.w, (0.0, 34.0, 30.0), (9.0, 8.0, 30.0)), 3.0)
    if disease.osteophyte_mm > 0:
        d = smooth_union(d, _osteophytes(f, disease.osteophyte_mm, FEMUR_SPURS), 2.0)
    return d + wobble


FEMUR_SPURS = (
    (-36.0, -2.0, 10.0),
    (37.0, -1.0, 10.0),
    (-27.0, -26.0, 6.0),
    (28.0, -25.0, 7.0),
    (-29.0, 22.0, 40.0),
    (29.0, 22.0, 40.0),
)
TIBIA_SPURS = ((-39.0, 2.0, -3.0), (40.0, 2.0, -3.0), (-30.0, -20.0, -4.0), (0.0, -24.0, -6.0))


def _osteophytes(f: BoneFrame, size: float, spots: tuple[tuple[float, float, float], ...]) -> np.ndarray:
    """Bony spurs at the joint margins, flattened against the bone they grow from."""
    d = np.full(f.u.shape, 1e3, dtype=np.float32)
    for u, v, w in spots:
        out = np.sign(u) if u else 0.0
        centre = (u + out * 0.3 * size, v + (0.3 * size if v > 15 else -0.3 * size if v < -15 else 0.0), w)
        d = np.minimum(d, ellipsoid(f.u, f.v, f.w, centre, (0.8 * size, 1.4 * size, 0.9 * size)))
    return d


def plateau_height(u: np.ndarray, v: np.ndarray, disease: Disease) -> np.ndarray:
    """Height of the tibial plateau (w) under each point: joint space below the condyles, 7 deg slope."""
    medial, lateral = disease.joint_space_mm
    gap = medial + (lateral - medial) / (1.0 + np.exp(-u / 6.0))
    lateral_dip = 1.0 / (1.0 + np.exp(-u / 6.0))  # lateral condyle sits 1 mm higher
    return -gap + lateral_dip * 1.0 + np.tan(np.radians(7.0)) * (v + 6.0)


def tibia(t: BoneFrame, disease: Disease, wobble: np.ndarray) -> np.ndarray:
    """Distance to the tibia (template mm)."""
    top = plateau_height(t.u, t.v, disease)
    taper = 1.0 - 0.22 * np.clip((top - t.w) / 30.0, 0.0, 1.0)  # the condyles overhang the metaphysis
    rim = superellipse_tube(t.u, t.v + 3.0, 39.0 * taper, 26.0 * taper, 2.6)
    plateau = np.maximum(np.maximum(rim, t.w - top), -(t.w + 30.0))
    g = _flare(np.minimum(t.w + 18.0, 0.0), 0.0, 32.0)
    meta = superellipse_tube(t.u + 1.0, t.v + 4.0 * g - 1.0, 13.0 + 24.0 * g, 12.5 + 12.0 * g, 2.2)
    meta = intersect(meta, slab_cap(t.w, -SHAFT_END_MM, -12.0))
    d = smooth_union(plateau, meta, 14.0)
    for side in (-1.0, 1.0):  # tibial spines rise into the notch
        base = float(plateau_height(np.array(side * 5.0), np.array(-2.0), disease))
        spine = ellipsoid(t.u, t.v, t.w, (side * 5.0, -2.0, base), (4.0, 7.0, 6.0))
        d = smooth_union(d, spine, 2.0)
    d = smooth_union(d, ellipsoid(t.u, t.v, t.w, (4.0, 22.0, -38.0), (10.0, 8.0, 17.0)), 6.0)
    if disease.osteophyte_mm > 0:
        spots = tuple((u, v, w - disease.joint_space_mm[0]) for u, v, w in TIBIA_SPURS)
        d = smooth_union(d, _osteophytes(t, disease.osteophyte_mm, spots), 2.0)
    return d + wobble


def fibula(t: BoneFrame) -> np.ndarray:
    """Fibular head under the lateral plateau and its thin shaft (labelled background)."""
    head = ellipsoid(t.u, t.v, t.w, (33.0, -19.0, -34.0), (10.0, 10.0, 13.0))
    drift = 0.03 * np.maximum(-t.w - 40.0, 0.0)
    shaft = superellipse_tube(t.u - 31.0 + drift, t.v + 17.0, 7.0, 6.5, 2.0)
    shaft = intersect(shaft, slab_cap(t.w, -SHAFT_END_MM, -36.0))
    return smooth_union(head, shaft, 5.0)


def patella(p: BoneFrame) -> np.ndarray:
    """Patella in front of the trochlea (labelled background)."""
    return ellipsoid(p.u, p.v, p.w, (0.0, 43.0, 40.0), (22.0, 10.0, 24.0))


def cortex_mm(w: np.ndarray, bone: str) -> np.ndarray:
    """Cortical thickness: thin shell at the joint end, thick in the diaphysis."""
    along = w if bone == "femur" else -w
    return 1.1 + 4.4 * np.clip((along - 45.0) / 80.0, 0.0, 1.0)


def marrow_mix(w: np.ndarray, bone: str) -> np.ndarray:
    """1 where the inside is cancellous (epiphysis, metaphysis), 0 where it is fatty marrow (shaft)."""
    along = w if bone == "femur" else -w
    return np.clip(1.0 - (along - 70.0) / 60.0, 0.0, 1.0)
