"""Draws wide-variation knee phantoms: every axis of issue 12, each from the seed or pinned.

The anatomy of each leg comes from the classic drawer (same seed, both legs drawn), so a
wide phantom of seed 7 has seed 7's knees; everything about how they are posed, scanned
and surrounded is then drawn from a second random stream in a fixed order, and only
afterwards replaced by what :class:`WideChoices` pins. Pinning one axis therefore leaves
every other draw unchanged, which is what the tests of each axis rely on.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from kneeseg_app.core.phantom.draw import draw_params
from kneeseg_app.core.phantom.draw_extras import bone_quality, draw_extras, table_design
from kneeseg_app.core.phantom.params import Acquisition, KneeShape, LegParams, PhantomParams
from kneeseg_app.core.phantom.variation import (
    PADDINGS,
    POSITIONS_WIDE,
    LongBones,
    WideChoices,
)

PIXELS = (256, 320, 384, 512, 512, 512, 640, 768, 1024)
SLICES_MM = (0.5, 0.625, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0)
VOXEL_BUDGET = 64_000_000
"""Largest volume drawn (voxels): long scans get thicker slices, then fewer pixels."""
LONG_FROM_MM = 200.0
"""Coverage above or below the joint from which hip and ankle anatomy is drawn (slower)."""
TABLES = ("curved", "flat", "mattress", "none")
SPUR_SCALE = {0: 0.0, 1: 0.5, 2: 0.8, 3: 1.0, 4: 1.6}
SHAPE_LENGTHS = (
    "cond_radius",
    "cond_half_width_med",
    "cond_half_width_lat",
    "cond_extension",
    "cond_rise",
    "notch_half_width",
    "femur_shaft_radius",
    "trochlea_radius",
    "trochlea_groove",
    "plateau_half_width",
    "plateau_half_depth",
    "eminence_med",
    "eminence_lat",
    "tibia_shaft_radius",
    "fibula_head_radius",
    "fibula_shaft_radius",
    "patella_height",
)
"""Lengths of :class:`KneeShape` the wide generator varies beyond the classic ranges."""


def draw_wide_params(
    seed: int,
    choices: WideChoices = WideChoices(),
    *,
    shape_zyx: tuple[int, int, int] | None = None,
    spacing_zyx: tuple[float, float, float] | None = None,
) -> PhantomParams:
    """A knee CT description drawn over the full range of every variation axis."""
    rng = np.random.default_rng([int(seed), 0x5EED])
    d = _draw_all(rng)
    for name, value in vars(choices).items():
        if value is not None and not (name == "padding_hu" and value == "drawn"):
            d[name] = value
    if choices.padding_hu is None:
        d["padding_hu"] = None
    pinned = {name for name in ("pixels", "slice_mm", "coverage_mm") if getattr(choices, name) is not None}
    shape, spacing = _wide_grid(d, shape_zyx, spacing_zyx, pinned)
    above, below = (float(c) for c in d["coverage_mm"])
    extent = (shape[0] - 1) * spacing[0]  # what the grid shows, split as drawn or pinned
    d["coverage_mm"] = (extent * above / max(above + below, 1e-6), extent * below / max(above + below, 1e-6))
    grade = int(d["oa_grade"])
    base = draw_params(seed, both_legs=True, osteoarthritis=grade > 0, side=d["side"])
    legs = [_pose_leg(leg, d, i, grade if i == 0 else min(grade, d["other_grade"])) for i, leg in enumerate(base.legs)]
    legs = legs[:1] if d["legs"] == "one" else legs
    acq, legs = _place(d, shape, spacing, legs, base)
    habitus = float(d["habitus"])
    extras = draw_extras(d, len(legs), grade)
    table = table_design(d, base.table)
    return PhantomParams(
        seed=int(seed),
        acquisition=acq,
        tissues=bone_quality(base.tissues, float(d["bone_quality"])),
        fat_mm=float(1.0 + 45.0 * habitus**1.6),
        skin_mm=base.skin_mm,
        body_scale=base.body_scale,
        table=table,
        legs=tuple(legs),
        extras=extras,
    )


def merge_classic(choices: WideChoices, **classic) -> WideChoices:
    """Pin wide axes from the classic generator's arguments (None = leave as drawn or pinned)."""
    pins: dict = {}
    if classic.get("osteoarthritis") is not None and choices.oa_grade is None:
        pins["oa_grade"] = 3 if classic["osteoarthritis"] else 0
    if classic.get("both_legs") is not None and choices.legs is None:
        pins["legs"] = "apart" if classic["both_legs"] else "one"
    if classic.get("kernel") is not None and choices.sharpness is None:
        pins["sharpness"] = 0.85 if str(classic["kernel"]).upper() == "BONE" else 0.5
    for name, field_name in (
        ("noise_sd", "noise_sd"),
        ("flexion_deg", "flexion_deg"),
        ("side", "side"),
        ("patient_position", "position"),
        ("coverage_mm", "coverage_mm"),
    ):
        if classic.get(name) is not None and getattr(choices, field_name) is None:
            pins[field_name] = classic[name]
    return replace(choices, **pins)


def _draw_all(rng: np.random.Generator) -> dict:
    """Every drawn value, in a fixed order (never reorder: it would change every phantom)."""
    u = rng.uniform
    d: dict = {}
    d["sharpness"] = float(u(0, 1))
    d["ringing"] = bool(rng.random() < 0.5)
    d["ringing_cutoff"] = float(u(0.55, 0.9))
    d["noise_texture"] = float(u(0, 1))
    d["noise_sd"] = float(math.exp(u(math.log(5.0), math.log(60.0))))
    d["hu_offset"] = float(u(-40, 40))
    d["hu_scale"] = float(u(0.96, 1.04))
    d["clip_low"] = -1024.0 if rng.random() < 0.4 else None
    d["clip_high"] = 3071.0 if rng.random() < 0.5 else None
    d["fov_mm"] = float(math.exp(u(math.log(150.0), math.log(500.0))))
    d["pixels"] = int(rng.choice(PIXELS))
    d["slice_mm"] = float(rng.choice(SLICES_MM))
    d["padding_hu"] = [None, *PADDINGS][int(rng.choice(6, p=[0.2, 0.2, 0.15, 0.15, 0.2, 0.1]))]
    d["legs"] = str(rng.choice(["one", "apart", "touching"], p=[0.45, 0.35, 0.2]))
    d["gap_mm"] = float(u(10, 110))
    d["touch_mm"] = float(u(0, 15))
    d["off_centre"] = float(0.75 * rng.random() ** 0.8)
    d["off_angle"] = float(u(0, 2 * math.pi))
    d["position"] = str(rng.choice(POSITIONS_WIDE, p=[0.3, 0.4, 0.15, 0.15]))
    d["flexion_deg"] = float(45.0 * rng.random() ** 1.3)
    d["rotation_deg"] = float(u(-25, 25))
    d["other_flexion"] = float(rng.normal(0, 6))
    d["other_rotation"] = float(rng.normal(0, 8))
    kind = int(rng.choice(3, p=[0.2, 0.55, 0.25]))
    total = (u(60, 120), u(120, 320), u(320, 1200))[kind]
    share = float(u(0.35, 0.65))
    d["coverage_mm"] = (float(total * share), float(total * (1 - share)))
    d["table"] = str(rng.choice(TABLES, p=[0.35, 0.2, 0.2, 0.25]))
    d["aids"] = tuple(a for a, p in (("wedge", 0.2), ("gel", 0.1), ("rails", 0.2), ("strap", 0.15)) if rng.random() < p)
    d["implant"] = str(rng.choice(["none", "tkr", "plate", "nail"], p=[0.7, 0.12, 0.1, 0.08]))
    d["implant_same_leg"] = bool(rng.random() < 0.5)
    d["implant_bone"] = "femur" if rng.random() < 0.5 else "tibia"
    d["contrast"] = bool(rng.random() < 0.15)
    d["calcification"] = bool(rng.random() < 0.2)
    d["habitus"] = float(rng.beta(1.6, 1.6))
    d["bone_quality"] = float(u(-1, 1))
    d["oa_grade"] = int(rng.choice(5, p=[0.3, 0.15, 0.15, 0.2, 0.2]))
    d["other_grade"] = int(rng.integers(0, 5))
    d["varus_deg"] = float(rng.choice([-1.0, 1.0], p=[0.3, 0.7]) * u(2, 14))
    d["fabella"] = bool(rng.random() < 0.25)
    d["side"] = None
    d["extra"] = rng.integers(0, 2**31, size=4)
    d["centre_on_pair"] = bool(rng.random() < 0.6)
    d["anatomy"] = float(u(0, 1))
    d["shape_factors"] = rng.uniform(-1.0, 1.0, size=(2, len(SHAPE_LENGTHS) + 2))
    d["wave_factor"] = float(u(0.5, 2.0))
    d["bone_streaks"] = float(u(5.0, 40.0)) if rng.random() < 0.5 else 0.0
    if rng.random() < 0.06:  # a bone-density calibration phantom under the legs
        d["aids"] = (*d["aids"], "qct")
    return d


def _pose_leg(leg: LegParams, d: dict, index: int, grade: int) -> LegParams:
    """Flexion, rotation, osteoarthritis grade (gaps, spurs, cysts) and varus/valgus of one leg."""
    flexion = float(d["flexion_deg"]) + (0.0 if index == 0 else float(d["other_flexion"]))
    flexion = float(np.clip(flexion, 0.0, 45.0))
    rotation = float(d["rotation_deg"]) + (0.0 if index == 0 else float(d["other_rotation"]))
    shape = _vary_shape(leg.shape, float(d["anatomy"]), d["shape_factors"][index])
    cortex = 1.0 + 0.4 * float(d["bone_quality"])
    shape = replace(shape, femur_cortex=shape.femur_cortex * cortex, tibia_cortex=shape.tibia_cortex * cortex)
    tilt_share = -leg.femur_tilt_deg / leg.flexion_deg if leg.flexion_deg > 1e-6 else 0.4
    out = replace(
        leg, flexion_deg=flexion, axial_rotation_deg=rotation, femur_tilt_deg=-tilt_share * flexion, shape=shape
    )
    out = replace(out, surface_wave_mm=leg.surface_wave_mm * float(d["wave_factor"]))
    above, below = (float(c) for c in d["coverage_mm"])
    if max(above, below) > LONG_FROM_MM:
        out = replace(out, long=_long_bones(shape))
    return _osteoarthritis(out, grade, float(d["varus_deg"]) if index == 0 else 0.0)


def _vary_shape(shape: KneeShape, anatomy: float, factors: np.ndarray) -> KneeShape:
    """Bone proportions beyond the classic draw: each length up to +-12 %, slope and valgus wider.

    ``anatomy`` 0 keeps the classic shape; the epicondyles keep standing proud of the condyles.
    """
    if anatomy <= 0.0:
        return shape
    changes = {
        name: getattr(shape, name) * (1.0 + 0.12 * anatomy * float(f)) for name, f in zip(SHAPE_LENGTHS, factors)
    }
    changes["tibial_slope_deg"] = float(np.clip(shape.tibial_slope_deg + 5.0 * anatomy * float(factors[-2]), 0.0, 16.0))
    changes["femur_valgus_deg"] = float(np.clip(shape.femur_valgus_deg + 2.5 * anatomy * float(factors[-1]), 2.0, 10.0))
    proud = shape.epicondyle_half_width - (
        shape.notch_half_width + 2 * max(shape.cond_half_width_med, shape.cond_half_width_lat)
    )
    varied = replace(shape, **changes)
    widest = varied.notch_half_width + 2 * max(varied.cond_half_width_med, varied.cond_half_width_lat)
    return replace(varied, epicondyle_half_width=widest + proud)


def _long_bones(shape: KneeShape) -> LongBones:
    s = shape.scale
    return LongBones(femur_length=430.0 * s, tibia_length=370.0 * s, head_radius=23.0 * s, neck_length=52.0 * s)


def _osteoarthritis(leg: LegParams, grade: int, varus: float) -> LegParams:
    """Grade 0 healthy .. 4 bone-on-bone: gaps close, spurs grow, varus/valgus appears."""
    if grade <= 0:
        return replace(leg, osteoarthritis=False, spurs=(), cysts=(), sclerosis_hu=0.0, varus_deg=0.0)
    closing = {1: 0.45, 2: 0.75, 3: 1.0, 4: 1.0}[grade]
    healthy_med, healthy_lat = 5.2, 6.2
    med = (
        healthy_med + closing * (leg.gap_medial_mm - healthy_med)
        if leg.osteoarthritis
        else healthy_med * (1 - 0.5 * closing)
    )
    lat = (
        healthy_lat + closing * (leg.gap_lateral_mm - healthy_lat)
        if leg.osteoarthritis
        else healthy_lat * (1 - 0.3 * closing)
    )
    if grade == 4:
        med, lat = min(med, 0.3), min(lat, 1.5)
    if varus < 0:  # valgus: the lateral compartment collapses
        med, lat = lat, med
    scale = SPUR_SCALE[grade]
    spurs = tuple(
        replace(s, tip=tuple(b + scale * (t - b) for b, t in zip(s.base, s.tip)), radius=s.radius * (0.7 + 0.3 * scale))
        for s in leg.spurs
    )
    cysts = tuple(replace(c, radius=c.radius * (1.0 + 0.4 * (grade - 2))) for c in leg.cysts) if grade >= 2 else ()
    return replace(
        leg,
        osteoarthritis=True,
        gap_medial_mm=float(med),
        gap_lateral_mm=float(lat),
        spurs=spurs,
        cysts=cysts,
        sclerosis_hu=leg.sclerosis_hu * (0.3 + 0.25 * grade),
        varus_deg=float(varus) * (grade / 4.0) if grade >= 2 else 0.0,
    )


def _wide_grid(
    d: dict, shape_zyx, spacing_zyx, pinned: set[str]
) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
    """FOV, matrix and slice spacing within the issue's ranges and the voxel budget.

    A given ``shape_zyx`` keeps its slice count: the slices are as thick as pinned, else as
    the pinned coverage needs, else as drawn (kept within 60-1200 mm of coverage).
    """
    above, below = (float(c) for c in d["coverage_mm"])
    extent = above + below
    if shape_zyx is not None and spacing_zyx is not None:
        return tuple(int(n) for n in shape_zyx), tuple(float(s) for s in spacing_zyx)  # type: ignore[return-value]
    fov, pixels, slice_mm = float(d["fov_mm"]), int(d["pixels"]), float(d["slice_mm"])
    if "pixels" not in pinned:
        while fov / pixels > 1.0 and pixels < 1024:
            pixels = min(p for p in PIXELS if p > pixels)
        while fov / pixels < 0.3 and pixels > 256:
            pixels = max(p for p in PIXELS if p < pixels)
    if shape_zyx is not None:
        nz, ny, nx = (int(n) for n in shape_zyx)
        xy = fov / max(ny, nx)
        gaps = max(nz - 1, 1)
        if "slice_mm" in pinned:
            sz = slice_mm
        elif "coverage_mm" in pinned:
            sz = extent / gaps
        else:
            sz = float(np.clip(slice_mm, 60.0 / gaps, 1200.0 / gaps))
        return (nz, ny, nx), (sz, xy, xy)
    if spacing_zyx is not None:
        sz, sy, sx = (float(s) for s in spacing_zyx)
        return (int(round(extent / sz)) + 1, pixels, pixels), (sz, sy, sx)
    nz = int(round(extent / slice_mm)) + 1
    if nz * pixels * pixels > VOXEL_BUDGET:
        slice_mm = min(5.0, extent / (VOXEL_BUDGET / pixels**2 - 1))
        nz = int(round(extent / slice_mm)) + 1
    while nz * pixels * pixels > VOXEL_BUDGET and pixels > 256:
        pixels = max(p for p in PIXELS if p < pixels)
    xy = fov / pixels
    return (nz, pixels, pixels), (slice_mm, xy, xy)


def _place(d: dict, shape, spacing, legs: list[LegParams], base: PhantomParams) -> tuple[Acquisition, list[LegParams]]:
    """Where the knees sit in the field of view (off centre, apart or touching) and the grid origin."""
    nz, ny, nx = shape
    sz, sy, sx = spacing
    above, below = (float(c) for c in d["coverage_mm"])
    extent = (nz - 1) * sz
    joint_z = -0.5 * extent + below / max(above + below, 1e-6) * extent
    radius = 0.5 * min(nx * sx, ny * sy)
    r = float(d["off_centre"]) * radius
    knee_x = r * math.cos(float(d["off_angle"]))
    knee_y = r * math.sin(float(d["off_angle"]))
    primary = legs[0]
    placed = [replace(primary, knee_lps=(knee_x, knee_y, joint_z))]
    if len(legs) == 2:
        half_width = 51.0 * primary.soft.girth * base.body_scale + 0.6 * (1.0 + 45.0 * float(d["habitus"]) ** 1.6)
        gap = float(d["gap_mm"]) if d["legs"] == "apart" else -float(d["touch_mm"])
        sign = -1.0 if primary.side == "right" else 1.0
        separation = 2 * half_width + gap
        # Both knees scanned: mostly centred between them, else on the knee asked about.
        first_x = knee_x + sign * 0.5 * separation if d["centre_on_pair"] else knee_x
        placed = [replace(primary, knee_lps=(first_x, knee_y, joint_z))]
        other_x = first_x - sign * separation
        placed.append(replace(legs[1], knee_lps=(other_x, knee_y + float(d["other_rotation"]) * 0.3, joint_z)))
    origin = (-(nx - 1) * sx / 2.0, -(ny - 1) * sy / 2.0, -extent * 0.5)
    scanner_name = "SOFT" if d["sharpness"] < 0.33 else ("STANDARD" if d["sharpness"] < 0.66 else "BONE")
    acq = Acquisition(
        shape_zyx=tuple(shape),
        spacing_zyx=tuple(spacing),
        origin_xyz=origin,
        patient_position=str(d["position"]).upper(),
        kernel=scanner_name,
        noise_sd=float(d["noise_sd"]),
        noise_blur=0.0,
        hu_offset=float(d["hu_offset"]),
        edge_width=1.0,
        edge_boost=0.0,
        padding_hu=d["padding_hu"],
    )
    return acq, placed
