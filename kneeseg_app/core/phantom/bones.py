"""Implicit bone shapes of the knee phantom, each in its own bone frame (u, v, w in mm).

The functions return implicit values (negative inside) that are close to, but not
exactly, distances; :func:`phantom_sdf.normalise` turns them into distances. The shapes
follow textbook knee anatomy (adult, scaled by ``KneeShape.scale``):

* femur: round shaft with a lateral (valgus) drift, a metaphysis widening to the
  epicondyles, two condyles that are circular posteriorly (so flexion about their centre
  keeps the joint gap), a trochlea with a groove in front, and the intercondylar notch
  cut under Blumensaat's line;
* tibia: triangular shaft, a flaring metaphysis with the tuberosity in front, a plateau
  with a concave medial and a convex lateral compartment, the two spines of the
  intercondylar eminence, posterior slope and the posterior (PCL) notch;
* fibula: head posterolateral under the lateral plateau, slender shaft;
* patella: a shield with a posterior ridge that faces the trochlear groove.
"""

from __future__ import annotations

import math

import numpy as np

from kneeseg_app.core.phantom import epicondyles
from kneeseg_app.core.phantom.params import KneeShape
from kneeseg_app.core.phantom.sdf import capsule, ellipse, ellipsoid, segment_distance_2d, smax, smin, smoothstep

Array = np.ndarray


def _interp(w: Array, knots: list[float], values: list[float]) -> Array:
    return np.interp(w, knots, values).astype(np.float32)


# --------------------------------------------------------------------------- irregularity


def surface_waves(
    u: Array, v: Array, w: Array, waves: tuple[tuple[float, float, float, float], ...], amplitude: Array | float
) -> Array:
    """A smooth random displacement (mm) that makes surfaces less perfect than textbook shapes."""
    total = np.zeros(np.broadcast(u, v, w).shape, np.float32)
    for ku, kv, kw, phase in waves:
        total += np.sin(u * ku + v * kv + w * kw + phase)
    return total * (amplitude / math.sqrt(max(len(waves), 1) / 2.0))


def physis_line(w: Array, u: Array, v: Array, level: float, k: KneeShape) -> Array:
    """Closeness (0..1) to the healed growth plate: an undulating sheet at ``level`` along the bone."""
    sheet = level + 3.0 * k.scale * np.cos(u * (math.pi / (22.0 * k.scale))) - 0.08 * v
    return np.exp(-(((w - sheet) * (1.0 / 1.6)) ** 2))


# --------------------------------------------------------------------------- femur


def femur(u: Array, v: Array, w: Array, k: KneeShape, gap_med: float, gap_lat: float) -> Array:
    """Implicit distal femur (femur frame): shaft, metaphysis, condyles, trochlea, notch
    (and, when ``k`` has them, the epicondylar prominences, twist and medial sulcus: :mod:`epicondyles`)."""
    body = _femur_body(u, v, w, k, gap_med, gap_lat)
    if not epicondyles.active(k):
        return body
    return body + epicondyles.features(u, v, w, k, lambda a, b, c: _femur_body(a, b, c, k, gap_med, gap_lat))


def femur_design_points(k: KneeShape, gap_med: float, gap_lat: float) -> dict[str, np.ndarray]:
    """The drawn epicondylar prominences and sulcus floor (femur frame, mm; :func:`epicondyles.design_points`)."""
    return epicondyles.design_points(k, lambda a, b, c: femur(a, b, c, k, gap_med, gap_lat))


def _femur_body(u: Array, v: Array, w: Array, k: KneeShape, gap_med: float, gap_lat: float) -> Array:
    if not epicondyles.active(k):
        shaft = _femur_loft(u, v, w, k)
    else:
        shaft = _femur_loft(*epicondyles.flare_coords(u, v, w, k), w, k)
    cond_med = _condyle(u, v, w, k, medial=True, gap=gap_med)
    cond_lat = _condyle(u, v, w, k, medial=False, gap=gap_lat)
    body = smin(shaft, cond_med, 5.0)
    body = smin(body, cond_lat, 5.0)
    body = smin(body, _trochlea(u, v, w, k, 0.5 * (gap_med + gap_lat)), 6.0)
    return smax(body, -_notch(u, v, w, k, 0.5 * (gap_med + gap_lat)), 1.5)


def _femur_loft(u: Array, v: Array, w: Array, k: KneeShape) -> Array:
    """Shaft and metaphysis: a concave (trumpet-like) flare from the shaft to the epicondyles."""
    r, e, rs = k.cond_radius, k.epicondyle_half_width, k.femur_shaft_radius
    above = np.maximum(w - (r + 12.0 * k.scale), 0.0)
    a = rs + (e - rs) * np.exp(above * (-1.0 / (28.0 * k.scale)))
    b = rs + (0.64 * e - rs) * np.exp(above * (-1.0 / (34.0 * k.scale)))
    vc = _interp(w, [r, r + 30, r + 70], [-6.0, -10.0, -13.0 * k.scale])
    uc = math.tan(math.radians(k.femur_valgus_deg)) * np.maximum(w - (r + 10), 0.0)
    loft = ellipse(u - uc, v - vc, a, b)
    return smax(loft, (r + 1.0) - w, 6.0)


def condyle_centre_u(k: KneeShape, medial: bool) -> float:
    """Medio-lateral centre of a femoral condyle (negative = medial)."""
    if medial:
        return -(k.notch_half_width + k.cond_half_width_med)
    return k.notch_half_width + k.cond_half_width_lat


def _condyle(u: Array, v: Array, w: Array, k: KneeShape, medial: bool, gap: float) -> Array:
    """A condyle as a wheel: round posteriorly about the flexion axis, elongated forwards."""
    r = k.cond_radius
    half_width = k.cond_half_width_med if medial else k.cond_half_width_lat
    extension = k.cond_extension * (1.15 if medial else 1.0)
    core = (0.0, r + gap), (-extension, r + gap + k.cond_rise)
    rho = segment_distance_2d(v, w, core[0], core[1])
    inner = k.cond_core * r
    radial = np.maximum(rho - inner, 0.0)
    return ellipse(u - condyle_centre_u(k, medial), radial, half_width, r - inner)


def _trochlea(u: Array, v: Array, w: Array, k: KneeShape, gap: float) -> Array:
    """The anterior femur over the condyles, with the patellar groove (lateral facet higher)."""
    r = k.cond_radius
    radius = (
        k.trochlea_radius
        - k.trochlea_groove * np.exp(-(((u - 1.5) * (1.0 / 9.0)) ** 2))
        + 1.5 * smoothstep(u, 0.0, 20.0)
    )
    rho = segment_distance_2d(v, w, (-12.0 * k.scale, r + gap + 4.0), (-12.0 * k.scale, r + 14.0 * k.scale))
    profile = rho - radius
    return smax(profile, np.abs(u - 1.0) - 0.72 * k.epicondyle_half_width, 8.0)


def _notch(u: Array, v: Array, w: Array, k: KneeShape, gap: float) -> Array:
    """The intercondylar notch: an arch between the condyles, behind and below Blumensaat's line."""
    b = math.radians(k.blumensaat_deg)
    roof = (v - (-10.0 * k.scale)) * (-math.sin(b)) + (w - gap) * math.cos(b)
    corner = 0.85 * k.notch_half_width
    side = np.abs(u) - (k.notch_half_width - corner)
    top = roof + corner
    outside = np.sqrt(np.maximum(side, 0.0) ** 2 + np.maximum(top, 0.0) ** 2)
    return outside + np.minimum(np.maximum(side, top), 0.0) - corner


def femur_cortex(w: Array, k: KneeShape) -> Array:
    """Cortical thickness: a thin subchondral plate at the joint, thick in the shaft."""
    r = k.cond_radius
    return _interp(w, [r + 20, r + 45, r + 75, r + 100], [k.joint_cortex, 1.8, 0.7 * k.femur_cortex, k.femur_cortex])


def femur_cancellous(w: Array, k: KneeShape) -> Array:
    """Share of cancellous (versus fatty marrow) filling: 1 in the epiphysis, 0 in the canal."""
    r = k.cond_radius
    return 1.0 - smoothstep(w, r + 25, r + 75)


# --------------------------------------------------------------------------- tibia


def tibia(u: Array, v: Array, w: Array, k: KneeShape) -> Array:
    """Implicit proximal tibia (tibia frame): plateau at w = 0, shaft downwards."""
    loft = _tibia_loft(u, v, w, k)
    body = smax(loft, w - _plateau_height(u, v, k), 3.5)
    tuberosity = ellipsoid(
        u - 5.0 * k.scale,
        v + 0.85 * k.plateau_half_depth,
        w + 36.0 * k.scale,
        9.0 * k.scale,
        5.5 * k.scale,
        15.0 * k.scale,
    )
    body = smin(body, tuberosity, 7.0)
    pcl_notch = smax(np.sqrt(u * u + (v - (k.plateau_half_depth + 5.0)) ** 2) - 10.0 * k.scale, -18.0 - w, 4.0)
    return smax(body, -pcl_notch, 3.0)


def _tibia_loft(u: Array, v: Array, w: Array, k: KneeShape) -> Array:
    """Shaft (triangular, apex = anterior crest) flaring concavely into the condyles."""
    pw, pd, rs, s = k.plateau_half_width, k.plateau_half_depth, k.tibia_shaft_radius, k.scale
    below = np.maximum(-w - 12.0 * s, 0.0)
    flare = np.exp(below * (-1.0 / (35.0 * s)))
    a = rs + (pw - rs) * flare
    b = 1.05 * rs + (pd - 1.05 * rs) * flare
    knots = [-120 * s, -70 * s, -40 * s, -20 * s]
    uc = _interp(w, knots, [-3.0, -3.0, -1.5, 0.0])
    vc = _interp(w, knots, [-3.0, -2.5, 0.0, 2.0])
    tri = 0.13 * (1.0 - flare) ** 2
    du, dv = u - uc, v - vc
    rho = np.sqrt(du * du + dv * dv) + 1e-3
    sin_t = dv / rho
    # Radius of a (slightly triangular) ellipse in the direction of the point.
    k0 = np.sqrt((du / a) ** 2 + (dv / b) ** 2) / rho
    radius = (1.0 + tri * (3.0 * sin_t - 4.0 * sin_t**3)) / k0
    return rho - radius


def _plateau_height(u: Array, v: Array, k: KneeShape) -> Array:
    """Height of the joint surface: medial dish, lateral dome, spines, posterior slope."""
    u_med = condyle_centre_u(k, medial=True)
    u_lat = condyle_centre_u(k, medial=False)
    slope = -math.tan(math.radians(k.tibial_slope_deg)) * v
    q_med = ((u - u_med) * (1.0 / 17.0)) ** 2 + (v * (1.0 / 22.0)) ** 2
    q_lat = ((u - u_lat) * (1.0 / 17.0)) ** 2 + (v * (1.0 / 20.0)) ** 2
    dish = k.medial_dish * np.minimum(q_med, 1.0)
    dome = -k.lateral_dome * np.minimum(q_lat, 1.0)
    spine_v = ((v + 1.0) * (1.0 / 7.0)) ** 2
    spines = k.eminence_med * np.exp(-(((u + 5.0) * (1.0 / 3.5)) ** 2) - spine_v) + k.eminence_lat * np.exp(
        -(((u - 5.0) * (1.0 / 3.5)) ** 2) - spine_v
    )
    return slope + dish + dome + spines


def tibia_cortex(w: Array, k: KneeShape) -> Array:
    s = k.scale
    return _interp(
        w, [-110 * s, -80 * s, -45 * s, -20 * s], [k.tibia_cortex, 0.7 * k.tibia_cortex, 1.6, k.joint_cortex]
    )


def tibia_cancellous(w: Array, k: KneeShape) -> Array:
    s = k.scale
    return smoothstep(w, -100 * s, -45 * s)


# --------------------------------------------------------------------------- fibula and patella


def fibula(u: Array, v: Array, w: Array, k: KneeShape) -> Array:
    """Fibular head (with its apex) and shaft, in the tibia frame."""
    hu, hv, hw = k.fibula_head
    r = k.fibula_head_radius
    head = ellipsoid(u - hu, v - hv, w - hw, r, 0.92 * r, 1.15 * r)
    apex = ellipsoid(u - hu - 2.0, v - hv - 4.0, w - hw - 0.9 * r, 0.45 * r, 0.45 * r, 0.5 * r)
    head = smin(head, apex, 3.0)
    top = np.array([hu, hv, hw - 0.6 * r])
    bottom = np.array([hu - 4.0, hv + 3.0, hw - 420.0])
    shaft = capsule(u, v, w, top, bottom, k.fibula_shaft_radius, 0.8 * k.fibula_shaft_radius)
    return smin(head, shaft, 9.0)


def fibula_cortex(w: Array, k: KneeShape) -> Array:
    hw = k.fibula_head[2]
    return _interp(w, [hw - 60, hw - 30, hw], [2.6, 1.2, 0.9])


def fibula_cancellous(w: Array, k: KneeShape) -> Array:
    hw = k.fibula_head[2]
    return 0.15 + 0.85 * smoothstep(w, hw - 45, hw - 15)


def patella_centre(k: KneeShape, axis_w: float) -> tuple[float, float, float]:
    """Patella centre (patella frame): its ridge faces the trochlear groove across the cartilage."""
    groove_floor = 12.0 * k.scale + k.trochlea_radius - k.trochlea_groove
    anterior = groove_floor + k.patella_gap + 0.55 * k.patella_semi[1]
    return (2.0 * k.scale, -anterior, axis_w + k.patella_height)


def patella(u: Array, v: Array, w: Array, k: KneeShape, axis_w: float) -> Array:
    """A shield-shaped patella with a posterior ridge; its lower pole is pointed."""
    cu, cv, cw = patella_centre(k, axis_w)
    su, sv, sw = k.patella_semi
    du, dv, dw = u - cu, v - cv, w - cw
    narrowing = 1.0 + 0.35 * np.clip(-dw * (1.0 / sw), 0.0, 1.0)
    shell = ellipsoid(du * narrowing, dv, dw, su, sv, sw)
    ridge = (dv - 0.55 * sv + 0.3 * np.abs(du - 1.0)) * (1.0 / math.hypot(1.0, 0.3))
    return smax(shell, ridge, 3.0)


def patella_pole(k: KneeShape, axis_w: float, lower: bool) -> np.ndarray:
    """Where the patellar (lower) or quadriceps (upper) tendon attaches, patella frame."""
    cu, cv, cw = patella_centre(k, axis_w)
    sw = k.patella_semi[2]
    return np.array([cu, cv + 1.0, cw - 0.85 * sw if lower else cw + 0.8 * sw])


def tuberosity_point(k: KneeShape) -> np.ndarray:
    """Insertion of the patellar tendon on the tibial tuberosity (tibia frame)."""
    return np.array([5.0 * k.scale, -0.9 * k.plateau_half_depth - 6.0 * k.scale, -40.0 * k.scale])
