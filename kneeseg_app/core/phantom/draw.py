"""Drawing a realistic knee CT description (:class:`PhantomParams`) from a seed.

:func:`draw_params` always makes the same draws in the same order, then applies the
caller's overrides: asking for ``osteoarthritis=True`` changes nothing else about seed
7's knee. Ranges follow adult anatomy and clinical knee CT protocols.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from kneeseg_app.core.phantom.params import (
    Acquisition,
    Cyst,
    KneeShape,
    LegParams,
    PhantomParams,
    SoftShape,
    Spur,
    TableParams,
    TissueHU,
)

POSITIONS = ("HFS", "FFS")
KERNELS = ("STANDARD", "BONE")
DEFAULT_IN_PLANE = 512
SLICE_SPACINGS = (0.5, 0.625, 0.75, 0.8, 1.0, 1.0, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0)


def draw_params(
    seed: int,
    *,
    shape_zyx: tuple[int, int, int] | None = None,
    spacing_zyx: tuple[float, float, float] | None = None,
    osteoarthritis: bool | None = None,
    both_legs: bool | None = None,
    noise_sd: float | None = None,
    flexion_deg: float | None = None,
    body_scale: float | None = None,
    side: str | None = None,
    patient_position: str | None = None,
    kernel: str | None = None,
    coverage_mm: tuple[float, float] | None = None,
) -> PhantomParams:
    """Draw a realistic knee CT description; ``None`` means "draw it from this seed".

    ``coverage_mm`` = (femur above the joint line, tibia below it) the volume must show;
    drawn in 80-150 mm each when not given. The field of view is chosen so the knee is in it.
    """
    rng = np.random.default_rng(seed)
    drawn_both = bool(rng.random() < 0.35)
    drawn_oa = bool(rng.random() < 0.5)
    drawn_side = "right" if rng.random() < 0.5 else "left"
    drawn_scale = float(rng.uniform(0.85, 1.15))
    drawn_flexion = float(30.0 * rng.random() ** 1.7)
    drawn_position = "FFS" if rng.random() < 0.65 else "HFS"
    drawn_kernel = "BONE" if rng.random() < 0.3 else "STANDARD"
    drawn_noise = float(math.exp(rng.uniform(math.log(5.0), math.log(40.0))))
    drawn_coverage = (float(rng.uniform(80, 150)), float(rng.uniform(80, 150)))
    in_plane_spacing = float(rng.uniform(0.5, 1.0))
    slice_spacing = float(rng.choice(SLICE_SPACINGS))
    fov_single = float(rng.uniform(200, 330))
    fov_both = float(rng.uniform(330, 440))

    both = drawn_both if both_legs is None else bool(both_legs)
    oa = drawn_oa if osteoarthritis is None else bool(osteoarthritis)
    side = drawn_side if side is None else _check_side(side)
    scale = drawn_scale if body_scale is None else float(body_scale)
    flexion = drawn_flexion if flexion_deg is None else float(flexion_deg)
    position = drawn_position if patient_position is None else _check_choice(patient_position, POSITIONS)
    kern = drawn_kernel if kernel is None else _check_choice(kernel, KERNELS)
    noise = drawn_noise if noise_sd is None else float(noise_sd)
    coverage = drawn_coverage if coverage_mm is None else (float(coverage_mm[0]), float(coverage_mm[1]))

    shape, spacing = _grid(
        shape_zyx, spacing_zyx, in_plane_spacing, slice_spacing, fov_both if both else fov_single, coverage
    )
    tissues = _draw_tissues(rng, kern)
    acq_rest = _draw_acquisition_rest(rng, kern)
    fat_mm = float((3.0 + 15.0 * rng.random() ** 1.5) * scale)
    skin_mm = float(rng.uniform(1.3, 2.4))
    table = _draw_table(rng)

    # Geometry: the joint line sits so that the requested femur/tibia coverage is inside.
    nz, ny, nx = shape
    sz, sy, sx = spacing
    extent_z = (nz - 1) * sz
    below = coverage[1] / max(coverage[0] + coverage[1], 1e-6) * extent_z
    fov_centre = (float(rng.uniform(-25, 25)), float(rng.uniform(-40, 40)))
    z0 = float(rng.uniform(-900.0, 200.0))
    joint_z = z0 + below
    origin = (fov_centre[0] - (nx - 1) * sx / 2.0, fov_centre[1] - (ny - 1) * sy / 2.0, z0)
    fov_width = min(nx * sx, ny * sy)

    primary = _draw_leg(rng, side, scale, flexion, oa)
    other_side = "left" if side == "right" else "right"
    other_oa = bool(rng.random() < 0.6) and oa  # always draw: overrides must not shift later draws
    other_flexion = float(np.clip(flexion + rng.normal(0, 4), 0, 35))
    other = _draw_leg(rng, other_side, scale, other_flexion, other_oa)
    knee_gap = float(rng.uniform(5, 90))
    jitter = (float(rng.uniform(-0.1, 0.1)) * fov_width, float(rng.uniform(-0.08, 0.08)) * fov_width)
    jitter_other = (float(rng.normal(0, 4)), float(rng.normal(0, 6)), float(rng.normal(0, 4)))

    knee_y = fov_centre[1] + jitter[1] - 8.0 * scale
    if both:
        half_sep = 52.0 * scale + knee_gap / 2.0
        centred_between = fov_width >= 2 * half_sep + 110 * scale
        mid_x = fov_centre[0] + jitter[0] if centred_between else None
        sign = -1.0 if side == "right" else 1.0  # the patient's right is -x
        primary_x = mid_x + sign * half_sep if mid_x is not None else fov_centre[0] + jitter[0]
        other_x = primary_x - sign * 2 * half_sep + jitter_other[0]
        legs = (
            replace(primary, knee_lps=(primary_x, knee_y, joint_z)),
            replace(other, knee_lps=(other_x, knee_y + jitter_other[1], joint_z + jitter_other[2])),
        )
    else:
        legs = (replace(primary, knee_lps=(fov_centre[0] + jitter[0], knee_y, joint_z)),)
    table = replace(table, x_lps=float(np.mean([leg.knee_lps[0] for leg in legs]) + rng.uniform(-20, 20)))

    acquisition = Acquisition(
        shape_zyx=shape,
        spacing_zyx=spacing,
        origin_xyz=origin,
        patient_position=position,
        kernel=kern,
        noise_sd=noise,
        **acq_rest,
    )
    return PhantomParams(
        seed=int(seed),
        acquisition=acquisition,
        tissues=tissues,
        fat_mm=fat_mm,
        skin_mm=skin_mm,
        body_scale=scale,
        table=table,
        legs=legs,
    )


def _check_side(side: str) -> str:
    value = side.lower()
    if value in ("r", "right"):
        return "right"
    if value in ("l", "left"):
        return "left"
    raise ValueError(f"side must be 'right' or 'left', got {side!r}")


def _check_choice(value: str, allowed: tuple[str, ...]) -> str:
    if value.upper() not in allowed:
        raise ValueError(f"expected one of {allowed}, got {value!r}")
    return value.upper()


def _grid(
    shape_zyx: tuple[int, int, int] | None,
    spacing_zyx: tuple[float, float, float] | None,
    in_plane: float,
    slice_spacing: float,
    fov_mm: float,
    coverage: tuple[float, float],
) -> tuple[tuple[int, int, int], tuple[float, float, float]]:
    """Pick the grid: given parts are kept, missing parts make the knee fit in the volume."""
    extent_z = coverage[0] + coverage[1]
    if shape_zyx is not None:
        shape = tuple(int(n) for n in shape_zyx)
        if len(shape) != 3 or min(shape) < 2:
            raise ValueError(f"shape_zyx must be three sizes >= 2, got {shape_zyx}")
    if spacing_zyx is not None:
        spacing = tuple(float(s) for s in spacing_zyx)
        if len(spacing) != 3 or min(spacing) <= 0:
            raise ValueError(f"spacing_zyx must be three positive numbers, got {spacing_zyx}")
    if shape_zyx is None and spacing_zyx is None:
        spacing = (slice_spacing, in_plane, in_plane)
        shape = (int(round(extent_z / slice_spacing)) + 1, DEFAULT_IN_PLANE, DEFAULT_IN_PLANE)
    elif shape_zyx is None:
        shape = (int(round(extent_z / spacing[0])) + 1, DEFAULT_IN_PLANE, DEFAULT_IN_PLANE)
    elif spacing_zyx is None:
        xy = fov_mm / max(shape[1], shape[2])
        spacing = (extent_z / max(shape[0] - 1, 1), xy, xy)
    return shape, spacing  # type: ignore[return-value]


def _draw_tissues(rng: np.random.Generator, kernel: str) -> TissueHU:
    return TissueHU(
        air=-1000.0,
        skin=float(rng.uniform(10, 50)),
        fat=float(rng.uniform(-120, -80)),
        muscle=float(rng.uniform(35, 60)),
        dense=float(rng.uniform(75, 105)),
        cortical=float(rng.uniform(1350, 1800)),
        cancellous=float(rng.uniform(170, 320)),
        marrow=float(rng.uniform(-45, 35)),
        trabecular_sd=float(rng.uniform(30, 60) * (1.3 if kernel == "BONE" else 1.0)),
        table_shell=float(rng.uniform(150, 500)),
        table_core=float(rng.uniform(-960, -850)),
        pad=float(rng.uniform(-950, -780)),
    )


def _draw_acquisition_rest(rng: np.random.Generator, kernel: str) -> dict:
    sharp = kernel == "BONE"
    padding = rng.choice(4, p=[0.5, 0.3, 0.1, 0.1])
    return {
        "noise_blur": float(rng.uniform(0.08, 0.18) if sharp else rng.uniform(0.15, 0.3)),
        "hu_offset": float(rng.uniform(-30, 30)),
        "edge_width": float(rng.uniform(0.7, 1.0) if sharp else rng.uniform(1.0, 1.7)),
        "edge_boost": float(rng.uniform(0.3, 0.7) if sharp else 0.0),
        "padding_hu": (None, -1024, -2048, -3024)[int(padding)],
    }


def _draw_table(rng: np.random.Generator) -> TableParams:
    has_pad, pad_mm = rng.random() < 0.5, float(rng.uniform(5, 40))
    pad = pad_mm if has_pad else 0.0
    return TableParams(
        present=bool(rng.random() < 0.9),
        x_lps=0.0,
        radius=float(rng.uniform(250, 650)),
        pad_mm=pad,
        thickness_mm=float(rng.uniform(12, 40)),
        shell_mm=float(rng.uniform(1.2, 3.0)),
        half_width_mm=float(rng.uniform(200, 250)),
        compression_mm=float(rng.uniform(2, 12)),
    )


def _draw_shape(rng: np.random.Generator, body_scale: float) -> KneeShape:
    s = body_scale * float(rng.uniform(0.94, 1.06))
    u = rng.uniform

    def mm(lo: float, hi: float) -> float:
        return float(u(lo, hi) * s)

    shape = KneeShape(
        scale=s,
        cond_radius=mm(19.0, 22.0),
        cond_half_width_med=mm(12.5, 15.0),
        cond_half_width_lat=mm(12.5, 15.0),
        cond_extension=mm(10.0, 16.0),
        cond_rise=mm(2.0, 6.0),
        cond_core=float(u(0.42, 0.55)),
        notch_half_width=mm(9.5, 11.5),
        blumensaat_deg=float(u(48, 58)),
        epicondyle_half_width=0.0,
        femur_shaft_radius=mm(12.5, 14.5),
        femur_valgus_deg=float(u(4, 8)),
        trochlea_radius=mm(20.0, 24.0),
        trochlea_groove=mm(3.0, 6.0),
        femur_cortex=mm(4.5, 7.0),
        plateau_half_width=mm(37.0, 41.0),
        plateau_half_depth=mm(23.0, 26.0),
        tibial_slope_deg=float(u(3, 10)),
        medial_dish=float(u(1.5, 3.0)),
        lateral_dome=float(u(0.5, 2.0)),
        eminence_med=mm(6.5, 9.0),
        eminence_lat=mm(5.5, 8.0),
        tibia_shaft_radius=mm(12.0, 14.0),
        tibia_cortex=mm(4.0, 6.0),
        fibula_head=(mm(31, 36), mm(14, 20), -mm(18, 25)),
        fibula_head_radius=mm(10.0, 12.5),
        fibula_shaft_radius=mm(6.0, 7.5),
        patella_semi=(mm(21, 25), mm(10.5, 12.5), mm(19, 23)),
        patella_height=mm(6, 16),
        patella_gap=float(u(4.0, 6.5)),
        joint_cortex=float(u(0.9, 1.5)),
    )
    # The epicondyles stand a little proud of the condyles' outer faces.
    widest = shape.notch_half_width + 2 * max(shape.cond_half_width_med, shape.cond_half_width_lat)
    return replace(shape, epicondyle_half_width=widest + float(u(0.5, 3.5)) * s)


def _draw_soft(rng: np.random.Generator) -> SoftShape:
    return SoftShape(
        girth=float(rng.uniform(0.92, 1.08)),
        wobble=tuple(float(v) for v in rng.uniform(-1, 1, 4)),  # type: ignore[arg-type]
        septa=int(rng.integers(5, 9)),
        septa_phase=float(rng.uniform(0, 2 * math.pi)),
    )


def _draw_leg(rng: np.random.Generator, side: str, scale: float, flexion: float, oa: bool) -> LegParams:
    shape = _draw_shape(rng, scale)
    soft = _draw_soft(rng)
    rotation = float(rng.normal(8, 9))
    abduction = float(rng.normal(2, 2.5))
    tilt_share = float(rng.uniform(0.2, 0.6))
    tracking = float(rng.uniform(0.55, 0.8))
    healthy_med, healthy_lat = float(rng.uniform(4.5, 6.0)), float(rng.uniform(5.0, 7.5))
    oa_med, oa_lat = float(rng.uniform(0.0, 0.8)), float(rng.uniform(0.0, 3.5))
    spurs = _draw_spurs(rng, shape)
    cysts = _draw_cysts(rng, shape)
    sclerosis = float(rng.uniform(250, 550))
    waves = []
    for _ in range(5):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        k = 2 * math.pi / float(rng.uniform(22, 60))
        waves.append(tuple(float(c) for c in direction * k) + (float(rng.uniform(0, 2 * math.pi)),))
    wave_mm = float(rng.uniform(0.4, 1.2))
    physis = float(rng.uniform(0, 160))
    return LegParams(
        side=side,
        knee_lps=(0.0, 0.0, 0.0),
        axial_rotation_deg=rotation,
        abduction_deg=abduction,
        flexion_deg=flexion,
        femur_tilt_deg=-tilt_share * flexion,
        patella_tracking=tracking,
        shape=shape,
        soft=soft,
        osteoarthritis=oa,
        gap_medial_mm=oa_med if oa else healthy_med,
        gap_lateral_mm=oa_lat if oa else healthy_lat,
        spurs=spurs if oa else (),
        cysts=cysts if oa else (),
        sclerosis_hu=sclerosis if oa else 0.0,
        surface_waves=tuple(waves),  # type: ignore[arg-type]
        surface_wave_mm=wave_mm,
        physis_hu=physis,
    )


def _draw_spurs(rng: np.random.Generator, k: KneeShape) -> tuple[Spur, ...]:
    """Osteophytes at the condyle and plateau margins (pointing outwards and towards the joint)."""
    spurs: list[Spur] = []
    u_med = -(k.notch_half_width + 2 * k.cond_half_width_med)
    u_lat = k.notch_half_width + 2 * k.cond_half_width_lat
    for u_edge, sign in ((u_med, -1.0), (u_lat, 1.0)):
        for _ in range(int(rng.integers(1, 3))):
            v = float(rng.uniform(-12, 8))
            w = float(rng.uniform(4, 12))
            length = float(rng.uniform(3, 7))
            spurs.append(
                Spur(
                    "femur",
                    (u_edge - sign * 3, v, w),
                    (u_edge + sign * length, v, w - length * 0.6),
                    float(rng.uniform(2, 3.5)),
                )
            )
        for _ in range(int(rng.integers(1, 3))):
            v = float(rng.uniform(-14, 10))
            length = float(rng.uniform(3, 8))
            u_rim = sign * k.plateau_half_width
            spurs.append(
                Spur(
                    "tibia",
                    (u_rim - sign * 4, v, -3.0),
                    (u_rim + sign * length, v, -3.0 + length * 0.25),
                    float(rng.uniform(1.8, 3.0)),
                )
            )
    if rng.random() < 0.7:  # posterior femoral condyle spur
        u = float(rng.choice([u_med, u_lat])) * 0.6
        spurs.append(
            Spur("femur", (u, k.cond_radius - 4, 2 * k.cond_radius), (u, k.cond_radius + 2, 2 * k.cond_radius + 2), 2.5)
        )
    if rng.random() < 0.6:  # anterior tibial rim spur
        spurs.append(
            Spur(
                "tibia",
                (float(rng.uniform(-15, 15)), -k.plateau_half_depth + 5, -4.0),
                (0.0, -k.plateau_half_depth - 4, -1.0),
                2.2,
            )
        )
    return tuple(spurs)


def _draw_cysts(rng: np.random.Generator, k: KneeShape) -> tuple[Cyst, ...]:
    cysts = []
    for _ in range(int(rng.integers(0, 3))):
        bone = "tibia" if rng.random() < 0.6 else "femur"
        u = -(k.notch_half_width + k.cond_half_width_med) + float(rng.uniform(-6, 6))
        v = float(rng.uniform(-8, 8))
        w = -float(rng.uniform(4, 9)) if bone == "tibia" else float(rng.uniform(5, 10))
        cysts.append(Cyst(bone, (u, v, w), float(rng.uniform(1.5, 4.0))))
    return tuple(cysts)
