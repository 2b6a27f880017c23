"""Soft tissue of one leg: muscle envelope, fat, skin, septa, fat pads, vessels, tendons, cartilage.

EVALUATION ONLY, never training. The thigh is a tube around the femoral shaft whose girth
grows toward the hip, the calf a tube behind the tibia that bulges at the gastrocnemius
and thins to the ankle, the knee a squat superelliptic core; they are joined smoothly,
then wrapped in subcutaneous fat (habitus) and skin. Distances are in millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.independent_phantoms.frames import BoneFrame
from benchmarks.independent_phantoms.params import Leg
from benchmarks.independent_phantoms.shapes import (
    ellipsoid,
    intersect,
    ramp,
    slab_cap,
    smooth_union,
    superellipse_tube,
)

SKIN_MM = 1.8


@dataclass
class SoftFields:
    """Signed distances (mm, negative inside) of the soft-tissue layers at a set of points."""

    body: np.ndarray
    muscle: np.ndarray
    septa: np.ndarray
    fat_pads: np.ndarray
    artery: np.ndarray
    vein: np.ndarray
    tendon: np.ndarray


def muscle_envelope(leg: Leg, neutral: BoneFrame, fem: BoneFrame, tib: BoneFrame) -> np.ndarray:
    """Outer surface of the muscle (deep fascia), template mm."""
    girth = leg.muscle_mm / leg.scale
    m = ramp(fem.w, 30.0, 200.0, 0.25, 1.0)
    lean = 0.08 * np.maximum(fem.w - 30.0, 0.0)
    thigh = superellipse_tube(fem.u - lean, fem.v + 6.0, 20.0 + girth * m, 17.5 + 0.95 * girth * m, 2.1)
    thigh = intersect(thigh, slab_cap(fem.w, 25.0, 700.0))
    c = ramp(-tib.w, 30.0, 110.0, 0.35, 1.0) * ramp(-tib.w, 220.0, 400.0, 1.0, 0.15)
    calf = superellipse_tube(tib.u + 3.0, tib.v + 10.0 + 12.0 * c, 19.0 + 0.55 * girth * c, 17.0 + 0.9 * girth * c, 2.1)
    calf = intersect(calf, slab_cap(tib.w, -700.0, -20.0))
    core = intersect(superellipse_tube(neutral.u, neutral.v + 3.0, 47.0, 41.0, 2.3), slab_cap(neutral.w, -55.0, 60.0))
    return smooth_union(smooth_union(thigh, calf, 25.0), core, 22.0)


def _septa(frame: BoneFrame, angles: tuple[float, ...], inner_mm: float) -> np.ndarray:
    """Distance to thin radial fat planes between muscle groups (in one bone's frame)."""
    d = np.full(frame.u.shape, 1e3, dtype=np.float32)
    for a in angles:
        c, s = np.float32(np.cos(a)), np.float32(np.sin(a))
        along = frame.u * c + frame.v * s
        across = np.abs(frame.v * c - frame.u * s)
        d = np.minimum(d, np.where(along > inner_mm, across, 1e3))
    return d - 0.6


def soft_fields(leg: Leg, neutral: BoneFrame, fem: BoneFrame, tib: BoneFrame) -> SoftFields:
    """All soft-tissue distances of one leg at the given points (already in its frames)."""
    s = leg.scale
    muscle = muscle_envelope(leg, neutral, fem, tib) * s
    body = muscle - leg.fat_mm - SKIN_MM
    thigh_septa = np.where(fem.w > 70.0, _septa(fem, (0.4, 1.9, 3.3, 4.6), 20.0), 1e3)
    calf_septa = np.where(tib.w < -70.0, _septa(tib, (0.2, 2.2, 4.0), 18.0), 1e3)
    pads = np.minimum(
        ellipsoid(neutral.u, neutral.v, neutral.w, (0.0, -38.0, 8.0), (20.0, 15.0, 46.0)),
        ellipsoid(neutral.u, neutral.v, neutral.w, (0.0, 27.0, -2.0), (17.0, 9.0, 12.0)),
    )
    artery = np.minimum(_vessel(fem, (-4.0, -33.0), 3.2, True), _vessel(tib, (-3.0, -31.0), 3.0, False))
    vein = np.minimum(_vessel(fem, (2.0, -38.0), 4.4, True), _vessel(tib, (3.0, -36.0), 4.0, False))
    patellar = intersect(superellipse_tube(tib.u - 3.0, tib.v - 32.5, 11.0, 3.2, 2.0), slab_cap(tib.w, -42.0, 12.0))
    quadriceps = intersect(superellipse_tube(fem.u, fem.v - 31.0, 16.0, 4.0, 2.0), slab_cap(fem.w, 62.0, 130.0))
    return SoftFields(
        body=body,
        muscle=muscle,
        septa=np.minimum(thigh_septa, calf_septa) * s,
        fat_pads=pads * s,
        artery=artery * s,
        vein=vein * s,
        tendon=np.minimum(patellar, quadriceps) * s,
    )


def _vessel(frame: BoneFrame, uv: tuple[float, float], radius: float, upper: bool) -> np.ndarray:
    """A popliteal vessel: a tube behind the bone, in the femur's frame above the pivot, the tibia's below."""
    tube = np.sqrt((frame.u - uv[0]) ** 2 + (frame.v - uv[1]) ** 2) - radius
    half = slab_cap(frame.w, 22.0, 700.0) if upper else slab_cap(frame.w, -700.0, 22.0)
    return np.maximum(tube, half)
