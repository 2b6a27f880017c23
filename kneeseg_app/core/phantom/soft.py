"""Soft tissue of the knee phantom: skin outline, fat, muscle, fat pads, vessels, tendons.

Evaluated on a coarse grid (about 3 mm), because soft-tissue boundaries are smooth; the
renderer interpolates them to the CT grid. The leg outline follows the femur above the
knee and the tibia below it, so a flexed knee bends its soft tissue too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.phantom.bones import patella_pole, tuberosity_point
from kneeseg_app.core.phantom.frames import LegFrames
from kneeseg_app.core.phantom.params import LegParams
from kneeseg_app.core.phantom.sdf import band, ellipsoid, smin

Array = np.ndarray

# Leg outline (skin) along the bone: w (mm from the joint), ML and AP semi-axes, centre offset.
_OUTLINE_W = [-250.0, -150.0, -80.0, -30.0, 0.0, 30.0, 80.0, 150.0, 250.0]
_OUTLINE_AU = [38.0, 48.0, 52.0, 50.0, 51.0, 53.0, 60.0, 70.0, 78.0]
_OUTLINE_AV = [40.0, 52.0, 58.0, 54.0, 51.0, 53.0, 60.0, 68.0, 74.0]
_OUTLINE_CU = [6.0, 8.0, 8.0, 4.0, 0.0, -2.0, -4.0, -6.0, -6.0]
_OUTLINE_CV = [28.0, 28.0, 24.0, 16.0, 10.0, 8.0, 6.0, 6.0, 6.0]


@dataclass
class SoftFields:
    """Soft-tissue implicit fields of one leg on one grid box."""

    outline: Array
    fat: Array
    pockets: Array
    vessels: Array
    septa: Array


_PROFILE_STEP = 5.0
_PROFILE_W = np.arange(_OUTLINE_W[0], _OUTLINE_W[-1] + _PROFILE_STEP, _PROFILE_STEP)
_PROFILE = np.stack(
    [np.interp(_PROFILE_W, _OUTLINE_W, col) for col in (_OUTLINE_AU, _OUTLINE_AV, _OUTLINE_CU, _OUTLINE_CV)]
).astype(np.float32)


def _profile(w: Array, body_scale: float) -> list[Array]:
    """Outline parameters (au, av, cu, cv) at heights ``w``: one table lookup for all four."""
    pos = np.clip((w * (1.0 / body_scale) - _PROFILE_W[0]) * (1.0 / _PROFILE_STEP), 0.0, len(_PROFILE_W) - 1.001)
    i0 = pos.astype(np.int32)
    t = pos - i0
    return [table[i0] + t * (table[i0 + 1] - table[i0]) for table in _PROFILE]


def _long_profile(w: Array, body_scale: float) -> list[Array]:
    """Outline parameters from the heel to the buttock (long scans of wide phantoms)."""
    from kneeseg_app.core.phantom import long_bones as lb

    x = w * (1.0 / body_scale)
    cols = (lb.LONG_OUTLINE_AU, lb.LONG_OUTLINE_AV, lb.LONG_OUTLINE_CU, lb.LONG_OUTLINE_CV)
    return [np.interp(x, lb.LONG_OUTLINE_W, col).astype(np.float32) for col in cols]


def _outline(u: Array, v: Array, w: Array, leg: LegParams, body_scale: float, fat_mm: float) -> tuple[Array, Array]:
    """Implicit skin surface of a leg in one bone frame, and the posterior direction cosine."""
    g = leg.soft.girth * body_scale
    au, av, cu, cv = _profile(w, body_scale) if leg.long is None else _long_profile(w, body_scale)
    au = au * g + 0.6 * fat_mm
    av = av * g + 0.6 * fat_mm
    du, dv = u - cu * g, v - cv * g
    rho = np.sqrt(du * du + dv * dv) + 1e-3
    c, s = du / rho, dv / rho
    w0, w1, w2, w3 = leg.soft.wobble
    slow = 1.0 + 0.5 * np.sin(w * (1.0 / 70.0))
    wobble = 1.0 + slow * (
        0.035 * (w0 * (c * c - s * s) + w1 * 2.0 * c * s) + 0.025 * (w2 * (4 * c**3 - 3 * c) + w3 * (3 * s - 4 * s**3))
    )
    k0 = np.sqrt((du / au) ** 2 + (dv / av) ** 2) / rho
    if leg.long is not None:  # long scans: the leg ends at the sole of the heel
        return np.maximum(rho - wobble / k0, -(leg.long.tibia_length + 90.0 * leg.shape.scale) - w), s
    return rho - wobble / k0, s


def leg_soft_fields(
    frames: LegFrames, leg: LegParams, xs: Array, ys: Array, zs: Array, body_scale: float, fat_mm: float
) -> SoftFields:
    """Soft-tissue fields of one leg on the grid ``zs x ys x xs`` (LPS axes)."""
    uf, vf, wf = frames.femur.coords(xs, ys, zs)
    thigh, post_f = _outline(uf, vf, wf, leg, body_scale, fat_mm)
    del uf, vf
    ut, vt, wt = frames.tibia.coords(xs, ys, zs)
    calf, post_t = _outline(ut, vt, wt, leg, body_scale, fat_mm)
    del ut, vt, wt
    um, vm, wm = frames.mid.coords(xs, ys, zs)
    blend = np.clip(0.5 + (wm - frames.axis_w) * (1.0 / 40.0), 0.0, 1.0)
    outline = calf + blend * (thigh - calf)
    posterior = post_t + blend * (post_f - post_t)
    del thigh, calf, post_f, post_t, wf

    knee = np.exp(-(((wm - frames.axis_w) * (1.0 / 45.0)) ** 2))
    fat = fat_mm * (1.0 + 0.35 * posterior) * (1.0 - 0.6 * knee * np.maximum(-posterior, 0.0))
    fat = np.maximum(fat, 1.5)
    pockets, vessels = _pockets_and_vessels(um, vm, wm, leg, frames.axis_w)
    septa = _septa(um, vm, wm, leg)
    return SoftFields(outline, fat.astype(np.float32), pockets, vessels, septa)


def _pockets_and_vessels(u: Array, v: Array, w: Array, leg: LegParams, axis_w: float) -> tuple[Array, Array]:
    """Fat spaces inside the fascia (anterior knee / Hoffa's pad, popliteal fossa) and the vessels."""
    s = leg.shape.scale
    r = leg.shape.cond_radius
    anterior = ellipsoid(u, v + 46.0 * s, w - 15.0 * s, 46.0 * s, 24.0 * s, 46.0 * s)
    popliteal = ellipsoid(u, v - (r + 24.0 * s), w - (axis_w - 5.0), 17.0 * s, 20.0 * s, 62.0 * s)
    # Around the joint line the muscle bellies give way to capsule, ligaments and fat.
    joint = ellipsoid(u, v + 18.0 * s, w - (axis_w - 8.0), 72.0 * s, 42.0 * s, 30.0 * s)
    pockets = np.minimum(np.minimum(anterior, popliteal), joint)
    artery = np.sqrt((u + 4.0 * s) ** 2 + (v - (r + 10.0 * s)) ** 2) - 3.5 * s
    vein = np.sqrt((u - 2.0 * s) ** 2 + (v - (r + 15.5 * s)) ** 2) - 4.5 * s
    nerve = np.sqrt((u - 7.0 * s) ** 2 + (v - (r + 25.0 * s)) ** 2) - 2.6 * s
    vessels = np.minimum(np.minimum(artery, vein), nerve)
    return pockets.astype(np.float32), vessels.astype(np.float32)


def _septa(u: Array, v: Array, w: Array, leg: LegParams) -> Array:
    """Signed field whose zero set is the fat planes between muscles (roughly radial sheets)."""
    n = leg.soft.septa
    p = leg.soft.septa_phase
    theta = np.arctan2(v - 10.0, u)
    warped = theta + 0.35 * np.sin(2.0 * theta + p) + w * (1.0 / 250.0)
    rho = np.maximum(np.sqrt(u * u + (v - 10.0) ** 2), 25.0)
    field = np.sin(0.5 * n * warped + p) * rho * (2.0 / n)
    # Near the knee joint tendons and capsule replace the muscle bellies: steepen the field
    # there so its fat planes become far thinner than a voxel (invisible) without a seam.
    knee = np.exp(-((w * (1.0 / 40.0)) ** 4))
    return (field * (1.0 + 40.0 * knee)).astype(np.float32)


def tendons(frames: LegFrames, leg: LegParams, u: Array, v: Array, w: Array) -> Array:
    """Patellar and quadriceps tendons as flat straps (leg-frame coordinates)."""
    k = leg.shape
    s = k.scale

    def in_leg(frame_name: str, point: np.ndarray) -> np.ndarray:
        frame = getattr(frames, frame_name)
        return frames.leg.to_local(frame.to_world(point))

    lower = in_leg("patella", patella_pole(k, frames.axis_w, lower=True))
    upper = in_leg("patella", patella_pole(k, frames.axis_w, lower=False))
    tuberosity = in_leg("tibia", tuberosity_point(k))
    quad_top = in_leg("femur", np.array([1.0, -(8.5 + k.femur_shaft_radius + 7.0) * s, frames.axis_w + 110.0 * s]))
    across = np.array([1.0, 0.0, 0.0])
    patellar = band(u, v, w, lower, tuberosity, across, 13.0 * s, 2.8 * s)
    quadriceps = band(u, v, w, upper, quad_top, across, 17.0 * s, 3.6 * s)
    return np.minimum(patellar, quadriceps)


def smooth_union_all(values: list[Array], k: float) -> Array:
    out = values[0]
    for other in values[1:]:
        out = smin(out, other, k)
    return out


def table_support(xs: Array, ys: Array, x_centre: float, y_support: float, radius: float) -> Array:
    """Signed distance to the curved table top (negative on the patient's side), 2D (y, x)."""
    cy = y_support - radius
    rho = np.sqrt((xs[None, :] - x_centre) ** 2 + (ys[:, None] - cy) ** 2)
    return (rho - radius).astype(np.float32)
