"""Hip-to-ankle anatomy for long scans: proximal femur, distal tibia, malleoli, talus, calcaneus, acetabulum.

Only legs with ``LegParams.long`` get these (the wide generator sets it); classic knees
are unchanged. Femoral head, neck and trochanters are femur (label 1); the distal tibia
and medial malleolus are tibia (label 2). The bones nobody labels are folded into the
unlabelled fields of the leg: talus, calcaneus and the lateral malleolus into the fibula
field (kept apart from the tibia like the fibula is), the acetabulum and its pelvic stubs
into the patella field (kept a cartilage's width from the femoral head).
"""

from __future__ import annotations

import math

import numpy as np

from kneeseg_app.core.phantom.grid import Box, FineGrid, box_around
from kneeseg_app.core.phantom.params import KneeShape, LegParams
from kneeseg_app.core.phantom.sdf import capsule, ellipsoid, smax, smin, smoothstep
from kneeseg_app.core.phantom.variation import LongBones

Array = np.ndarray
LONG_BOX_MARGIN_MM = 45.0
"""The femur box widens medially (pelvis) and the tibia box posteriorly (heel) in long mode."""


def _shaft_centre(k: KneeShape, w: float) -> tuple[float, float]:
    """Femoral shaft centre (u, v) at height w, as the loft in bones.py draws it."""
    r = k.cond_radius
    uc = math.tan(math.radians(k.femur_valgus_deg)) * max(w - (r + 10), 0.0)
    vc = float(np.interp(w, [r, r + 30, r + 70], [-6.0, -10.0, -13.0 * k.scale]))
    return uc, vc


def hip_points(k: KneeShape, lb: LongBones) -> tuple[np.ndarray, np.ndarray]:
    """Femoral head centre and the neck's junction with the shaft (femur frame, mm)."""
    a, b = math.radians(lb.neck_shaft_deg), math.radians(lb.anteversion_deg)
    neck = np.array([-math.sin(a) * math.cos(b), -math.sin(a) * math.sin(b), -math.cos(a)])
    w_head = lb.femur_length - lb.head_radius
    w_junction = w_head - lb.neck_length * neck[2]
    uc, vc = _shaft_centre(k, w_junction)
    junction = np.array([uc, vc, w_junction])
    return junction + lb.neck_length * neck, junction


def femur_proximal(shape: Array, u: Array, v: Array, w: Array, k: KneeShape, lb: LongBones) -> Array:
    """Cut the endless shaft below the trochanters and add neck, head and trochanters."""
    head, junction = hip_points(k, lb)
    s = k.scale
    top = junction[2] + 22.0 * s
    if float(np.max(w)) < junction[2] - 80.0 * s:
        return shape
    out = smax(shape, w - top, 6.0)
    p = (u, v, w)
    out = smin(out, _sphere(p, head, lb.head_radius), 3.0)
    out = smin(out, capsule(u, v, w, junction, head, 16.0 * s, 14.5 * s), 6.0)
    uc, vc = junction[0], junction[1]
    trochanter = ellipsoid(
        u - (uc + 24.0 * s), v - (vc + 6.0 * s), w - (junction[2] + 4.0 * s), 13.0 * s, 19.0 * s, 26.0 * s
    )
    out = smin(out, trochanter, 8.0)
    lesser = ellipsoid(
        u - (uc - 13.0 * s), v - (vc + 11.0 * s), w - (junction[2] - 42.0 * s), 8.0 * s, 8.0 * s, 10.0 * s
    )
    out = smin(out, lesser, 6.0)
    flare = ellipsoid(u - (uc + 6.0 * s), v - vc, w - (junction[2] - 15.0 * s), 24.0 * s, 20.0 * s, 48.0 * s)
    return smin(out, flare, 10.0)


def _sphere(p: tuple[Array, Array, Array], centre: np.ndarray, radius: float) -> Array:
    u, v, w = p
    return np.sqrt((u - centre[0]) ** 2 + (v - centre[1]) ** 2 + (w - centre[2]) ** 2) - radius


def tibia_distal(shape: Array, u: Array, v: Array, w: Array, k: KneeShape, lb: LongBones) -> Array:
    """Cut the shaft at the plafond and add the distal metaphysis and the medial malleolus."""
    s, t = k.scale, lb.tibia_length
    if float(np.min(w)) > -t + 80.0 * s:
        return shape
    out = smax(shape, -t - w, 2.0)
    meta = smax(ellipsoid(u + 3.0 * s, v + 2.0 * s, w + t - 28.0 * s, 24.0 * s, 20.0 * s, 42.0 * s), -t - w, 2.0)
    out = smin(out, meta, 10.0)
    malleolus = capsule(
        u, v, w, np.array([-17.0 * s, 0.0, -t + 6.0]), np.array([-19.0 * s, 2.0 * s, -t - 13.0 * s]), 6.5 * s, 4.5 * s
    )
    return smin(out, malleolus, 5.0)


def fibula_distal(shape: Array, u: Array, v: Array, w: Array, k: KneeShape, lb: LongBones) -> Array:
    """End the fibula in the lateral malleolus beside the talus."""
    s, t = k.scale, lb.tibia_length
    if float(np.min(w)) > -t + 80.0 * s:
        return shape
    hu, hv, _ = k.fibula_head
    out = smax(shape, (-t - 16.0 * s) - w, 3.0)
    malleolus = ellipsoid(u - (hu - 4.0), v - (hv + 1.0), w - (-t - 4.0 * s), 8.5 * s, 10.0 * s, 19.0 * s)
    return smin(out, malleolus, 6.0)


def foot_bones(u: Array, v: Array, w: Array, k: KneeShape, lb: LongBones) -> Array:
    """Talus (under the plafond) and calcaneus (behind and below it), tibia frame."""
    s, t = k.scale, lb.tibia_length
    talus = ellipsoid(u + 1.0 * s, v + 6.0 * s, w + t + 17.0 * s, 15.0 * s, 24.0 * s, 14.0 * s)
    calcaneus = ellipsoid(u, v - 22.0 * s, w + t + 52.0 * s, 17.0 * s, 38.0 * s, 20.0 * s)
    return smin(talus, calcaneus, 4.0)


def pelvis_stubs(u: Array, v: Array, w: Array, k: KneeShape, lb: LongBones) -> Array:
    """Acetabular cup around the femoral head with short iliac, pubic and ischial stubs (femur frame)."""
    head, _ = hip_points(k, lb)
    s, r = k.scale, lb.head_radius
    du, dv, dw = u - head[0], v - head[1], w - head[2]
    rho = np.sqrt(du * du + dv * dv + dw * dw)
    shell = np.abs(rho - (r + 7.5 * s)) - 3.5 * s
    inward = np.array([-0.6, 0.1, 0.8])
    inward /= np.linalg.norm(inward)
    cup = smax(shell, -(du * inward[0] + dv * inward[1] + dw * inward[2]) - 0.2 * r, 3.0)
    ilium = ellipsoid(du + 14.0 * s, dv - 4.0 * s, dw - 55.0 * s, 9.0 * s, 42.0 * s, 40.0 * s)
    pubis = capsule(
        du, dv, dw, np.array([-18.0, -14.0, -6.0]) * s, np.array([-62.0, -26.0, -14.0]) * s, 9.0 * s, 7.0 * s
    )
    ischium = capsule(
        du, dv, dw, np.array([-10.0, 18.0, -22.0]) * s, np.array([-24.0, 30.0, -62.0]) * s, 11.0 * s, 8.0 * s
    )
    return smin(smin(smin(cup, ilium, 6.0), pubis, 6.0), ischium, 6.0)


KNEE_SLAB_MM = 190.0
"""Tendons and cysts lie within this height of the joint line (even at 45 deg flexion)."""


def knee_slab(zs: Array, leg: LegParams) -> slice:
    """Nodes (LPS heights ``zs``, ascending) near the knee of a long leg; everything for other legs."""
    if leg.long is None:
        return slice(None)
    knee_z = leg.knee_lps[2]
    lo = int(np.searchsorted(zs, knee_z - KNEE_SLAB_MM))
    hi = int(np.searchsorted(zs, knee_z + KNEE_SLAB_MM, side="right"))
    return slice(lo, max(hi, lo))


def extend_bone(name: str, shape: Array, u: Array, v: Array, w: Array, leg: LegParams) -> Array:
    """The bone field with its far end (hip or ankle) when the leg is drawn long."""
    lb = leg.long
    if lb is None:
        return shape
    if name == "femur":
        return femur_proximal(shape, u, v, w, leg.shape, lb)
    if name == "tibia":
        return tibia_distal(shape, u, v, w, leg.shape, lb)
    if name == "fibula":
        return fibula_distal(shape, u, v, w, leg.shape, lb)
    return shape


def widen_box(name: str, lo: tuple, hi: tuple, leg: LegParams) -> tuple[tuple, tuple]:
    """Local bone box grown to hold the pelvic stubs (femur) or the heel (tibia, fibula)."""
    if leg.long is None:
        return lo, hi
    m = LONG_BOX_MARGIN_MM * leg.shape.scale
    if name == "femur":
        return (lo[0] - m - 40.0, lo[1] - 10.0, lo[2]), (hi[0] + 15.0, hi[1] + 25.0, hi[2] + 30.0)
    if name in ("tibia", "fibula"):
        return (lo[0] - 10.0, lo[1] - 30.0, lo[2] - 90.0), (hi[0] + 10.0, hi[1] + m, hi[2])
    return lo, hi


def add_unlabelled(sdf: dict[str, Array], box: Box, grid: FineGrid, frames, leg: LegParams, normalise) -> None:
    """Union foot bones into the fibula and the pelvis into the patella field (in place, locally)."""
    lb = leg.long
    if lb is None:
        return
    k = leg.shape
    head, _ = hip_points(k, lb)
    parts = (
        (
            "patella",
            frames.femur,
            head + np.array([-50.0, -20.0, -60.0]) * k.scale,
            head + np.array([25.0, 50.0, 100.0]) * k.scale,
            pelvis_stubs,
        ),
        (
            "fibula",
            frames.tibia,
            np.array([-30.0, -45.0, -lb.tibia_length - 85.0]) * np.array([k.scale, k.scale, 1.0]),
            np.array([30.0, 75.0, -lb.tibia_length + 5.0]) * np.array([k.scale, k.scale, 1.0]),
            foot_bones,
        ),
    )
    for name, frame, lo, hi, shape_fn in parts:
        corners = np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])
        world = frame.to_world(corners)
        local_box = box_around(grid, box.factor, world.min(axis=0), world.max(axis=0))
        local_box = local_box and box.intersect(local_box)
        if local_box is None:
            continue
        xs, ys, zs = local_box.axes(grid)
        u, v, w = frame.coords(xs, ys, zs)
        field = normalise(shape_fn(u, v, w, k, lb), local_box.spacing(grid))
        sl = box.sub(local_box)
        sdf[name][sl] = np.minimum(sdf[name][sl], field)


def adjust_interior(name: str, leg: LegParams, w: Array, cortex: Array, cancellous: Array) -> tuple[Array, Array]:
    """Thin cortex and cancellous filling in the femoral head/neck and the distal tibia."""
    lb = leg.long
    if lb is None or name == "patella":
        return cortex, cancellous
    s = leg.shape.scale
    if name == "femur":
        _, junction = hip_points(leg.shape, lb)
        near = smoothstep(w, junction[2] - 90.0 * s, junction[2] - 30.0 * s)
    else:
        near = smoothstep(-w, lb.tibia_length - 70.0 * s, lb.tibia_length - 25.0 * s)
    cortex = cortex + near * (1.2 - cortex)
    cancellous = cancellous + near * (1.0 - cancellous)
    return cortex.astype(np.float32), cancellous.astype(np.float32)


# Soft-tissue outline along the leg for long scans: from the heel to the buttock.
LONG_OUTLINE_W = [
    -440.0,
    -390.0,
    -340.0,
    -250.0,
    -150.0,
    -80.0,
    -30.0,
    0.0,
    30.0,
    80.0,
    150.0,
    250.0,
    330.0,
    400.0,
    470.0,
    540.0,
]
LONG_OUTLINE_AU = [30.0, 31.0, 30.0, 38.0, 48.0, 52.0, 50.0, 51.0, 53.0, 60.0, 70.0, 78.0, 84.0, 92.0, 100.0, 104.0]
LONG_OUTLINE_AV = [48.0, 40.0, 33.0, 40.0, 52.0, 58.0, 54.0, 51.0, 53.0, 60.0, 68.0, 74.0, 80.0, 88.0, 96.0, 100.0]
LONG_OUTLINE_CU = [2.0, 2.0, 4.0, 6.0, 8.0, 8.0, 4.0, 0.0, -2.0, -4.0, -6.0, -6.0, -8.0, -14.0, -20.0, -24.0]
LONG_OUTLINE_CV = [20.0, 12.0, 12.0, 28.0, 28.0, 24.0, 16.0, 10.0, 8.0, 6.0, 6.0, 6.0, 8.0, 14.0, 20.0, 22.0]
