"""Builds a phantom's coarse fields: bones per leg, soft tissue, the table and textures.

The result (:class:`Scene`) holds everything the slice renderer needs; nothing here is
full-resolution 3D, so memory stays small however large the CT grid is.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kneeseg_app.core.phantom import bones, long_bones
from kneeseg_app.core.phantom.frames import Frame, LegFrames, leg_frames
from kneeseg_app.core.phantom.grid import FAR, Box, CoarseStack, FineGrid, box_around, coarse_factors, trim, union_box
from kneeseg_app.core.phantom.params import LegParams, PhantomParams
from kneeseg_app.core.phantom.sdf import capsule, normalise, ramp, smax, smin, smoothstep
from kneeseg_app.core.phantom.soft import leg_soft_fields, smooth_union_all, tendons
from kneeseg_app.core.phantom.table import background as table_background
from kneeseg_app.core.phantom.table import fov_mask, table_height
from kneeseg_app.core.phantom.table import support as table_support_at

BONE_NAMES = ("femur", "tibia", "fibula", "patella")
F_FEM, F_TIB, F_FIB, F_PAT, F_INNER, F_INTERIOR, F_TEX, F_DENSE = range(8)
BONE_GRID_MM = (1.6, 1.5, 1.5)
"""Spacing aimed at for bone fields (z, y, x); soft tissue uses twice that."""

SKIN_COVER_MM = 3.0
HEALTHY_MARGIN_MM = 3.6
"""A healthy knee's femur and tibia stay at least this far apart (cartilage and menisci)."""


@dataclass
class Scene:
    """Coarse fields and 2D layers from which every CT slice is rendered."""

    params: PhantomParams
    grid: FineGrid
    soft: CoarseStack | None
    legs: list[CoarseStack]
    background: np.ndarray
    table_mask: np.ndarray
    fov_mask: np.ndarray | None
    texture: np.ndarray
    table_y: float | None
    extras: object | None = None
    """Wide phantoms: implants, vessels, aids and the scanner model (:mod:`extras`)."""


def build_scene(params: PhantomParams) -> Scene:
    """Evaluate all implicit anatomy of ``params`` on coarse grids."""
    acq = params.acquisition
    grid = FineGrid(acq.shape_zyx, acq.spacing_zyx, acq.origin_xyz)
    bone_factor = coarse_factors(acq.spacing_zyx, BONE_GRID_MM)
    soft_factor = tuple(2 * f for f in bone_factor)
    frames = [leg_frames(leg) for leg in params.legs]
    leg_stacks = []
    for leg, fr in zip(params.legs, frames):
        stack = _leg_bone_stack(grid, bone_factor, params, leg, fr)
        if stack is not None:
            leg_stacks.append(stack)
    soft, table_y = _soft_stack(grid, soft_factor, params, frames)  # type: ignore[arg-type]
    background, table_mask = table_background(grid, params, table_y)
    texture = _trabecular_tile(np.random.default_rng([params.seed, 1]), acq.spacing_zyx)
    scene = Scene(params, grid, soft, leg_stacks, background, table_mask, fov_mask(grid, params), texture, table_y)
    if params.extras is not None:
        from kneeseg_app.core.phantom.extras import attach

        attach(scene, frames)
    return scene


# --------------------------------------------------------------------------- boxes


def _extent_w(grid: FineGrid, leg: LegParams) -> tuple[float, float]:
    """How far (mm along the bones) the volume reaches above and below this knee."""
    z_lo = grid.axis(0, 0)
    z_hi = grid.axis(0, grid.shape[0] - 1)
    knee_z = leg.knee_lps[2]
    tilt = abs(leg.femur_tilt_deg) + abs(leg.flexion_deg) + abs(leg.abduction_deg)
    stretch = 1.0 / max(np.cos(np.radians(min(tilt, 60.0))), 0.5)
    return max(z_hi - knee_z, 0.0) * stretch + 40.0, max(knee_z - z_lo, 0.0) * stretch + 40.0


def _world_bbox(
    frame: Frame, lo: tuple[float, float, float], hi: tuple[float, float, float]
) -> tuple[np.ndarray, np.ndarray]:
    corners = np.array(list(itertools.product(*zip(lo, hi))), dtype=np.float64)
    world = frame.to_world(corners)
    return world.min(axis=0), world.max(axis=0)


def _bone_local_boxes(leg: LegParams, fr: LegFrames, up: float, down: float) -> dict[str, tuple[Frame, tuple, tuple]]:
    k = leg.shape
    s = k.scale
    e = k.epicondyle_half_width
    drift = np.tan(np.radians(k.femur_valgus_deg)) * up
    hu_, hv_, hw_ = k.fibula_head
    r = k.fibula_head_radius
    pc = bones.patella_centre(k, fr.axis_w)
    su, sv, sw = k.patella_semi
    boxes = {
        "femur": (
            fr.femur,
            (-e - 12, -12 * s - k.trochlea_radius - 12, -10.0),
            (e + 12 + drift, k.cond_radius + 16, up),
        ),
        "tibia": (
            fr.tibia,
            (-k.plateau_half_width - 14, -k.plateau_half_depth - 22, -down),
            (k.plateau_half_width + 14, k.plateau_half_depth + 16, 16.0),
        ),
        "fibula": (fr.tibia, (hu_ - r - 14, hv_ - r - 10, -down), (hu_ + r + 10, hv_ + r + 14, hw_ + 1.6 * r)),
        "patella": (
            fr.patella,
            (pc[0] - su - 8, pc[1] - sv - 8, pc[2] - sw - 8),
            (pc[0] + su + 8, pc[1] + sv + 8, pc[2] + sw + 8),
        ),
    }
    if leg.long is None:
        return boxes
    return {name: (frame, *long_bones.widen_box(name, lo, hi, leg)) for name, (frame, lo, hi) in boxes.items()}


# --------------------------------------------------------------------------- bones


def _bone_field(name: str, leg: LegParams, fr: LegFrames, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    k = leg.shape
    if name == "femur":
        shape = bones.femur(u, v, w, k, leg.gap_medial_mm, leg.gap_lateral_mm)
        # Joint surfaces stay smooth (they define the joint gap); the rest is irregular.
        amplitude = leg.surface_wave_mm * (0.2 + 0.8 * smoothstep(w, fr.axis_w, fr.axis_w + 20.0))
    elif name == "tibia":
        shape = bones.tibia(u, v, w, k)
        amplitude = leg.surface_wave_mm * (0.2 + 0.8 * smoothstep(-w, 4.0, 24.0))
    elif name == "fibula":
        shape, amplitude = bones.fibula(u, v, w, k), 0.5 * leg.surface_wave_mm
    else:
        shape, amplitude = bones.patella(u, v, w, k, fr.axis_w), 0.5 * leg.surface_wave_mm
    if leg.long is not None:
        shape = long_bones.extend_bone(name, shape, u, v, w, leg)
    if leg.surface_waves:
        shape = shape + bones.surface_waves(u, v, w, leg.surface_waves, amplitude)
    return shape


def _cortex_and_cancellous(name: str, leg: LegParams, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    k = leg.shape
    if name == "femur":
        return bones.femur_cortex(w, k), bones.femur_cancellous(w, k)
    if name == "tibia":
        return bones.tibia_cortex(w, k), bones.tibia_cancellous(w, k)
    if name == "fibula":
        return bones.fibula_cortex(w, k), bones.fibula_cancellous(w, k)
    return np.full_like(w, 1.2), np.ones_like(w)


def _physis(name: str, leg: LegParams, fr: LegFrames, u: np.ndarray, v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Healed growth plate: a faint dense line across the metaphysis (in the bone's frame)."""
    k = leg.shape
    if name == "femur":
        return leg.physis_hu * bones.physis_line(w, u, v, fr.axis_w + 6.0 * k.scale, k)
    return leg.physis_hu * bones.physis_line(-w, u, v, 16.0 * k.scale, k)


def _frame_of(name: str, fr: LegFrames) -> Frame:
    return {"femur": fr.femur, "tibia": fr.tibia, "fibula": fr.tibia, "patella": fr.patella}[name]


def _add_spurs(field: np.ndarray, box: Box, grid: FineGrid, frame: Frame, leg: LegParams, name: str) -> None:
    """Union the osteophytes growing from this bone into its field (in place, locally)."""
    for spur in (s for s in leg.spurs if s.bone == name):
        pts = frame.to_world(np.array([spur.base, spur.tip]))
        pad = spur.radius + 4.0
        local_box = box_around(grid, box.factor, pts.min(axis=0) - pad, pts.max(axis=0) + pad)
        local_box = local_box and box.intersect(local_box)
        if local_box is None:
            continue
        xs, ys, zs = local_box.axes(grid)
        u, v, w = frame.coords(xs, ys, zs)
        rod = capsule(u, v, w, np.array(spur.base), np.array(spur.tip), spur.radius, 0.55 * spur.radius)
        sl = box.sub(local_box)
        field[sl] = smin(field[sl], rod, 2.5)


def _cyst_fraction(box: Box, grid: FineGrid, leg: LegParams, fr: LegFrames) -> np.ndarray | None:
    if not leg.cysts:
        return None
    xs, ys, zs = box.axes(grid)
    out = np.zeros(box.shape, np.float32)
    near = long_bones.knee_slab(zs, leg)
    for cyst in leg.cysts:
        frame = _frame_of(cyst.bone, fr)
        u, v, w = frame.coords(xs, ys, zs[near])
        cu, cv, cw = cyst.centre
        dist = np.sqrt((u - cu) ** 2 + (v - cv) ** 2 + (w - cw) ** 2) - cyst.radius
        np.maximum(out[near], ramp(dist, 1.5), out=out[near])
    return out


def _evaluate_bones(
    grid: FineGrid, factor: tuple[int, int, int], leg: LegParams, fr: LegFrames, detailed: bool
) -> tuple[Box, dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]] | None:
    """Distance fields of the four bones of a leg on one coarse box (plus cortex and cancellous share)."""
    up, down = _extent_w(grid, leg)
    local = _bone_local_boxes(leg, fr, up, down)
    boxes = {name: box_around(grid, factor, *_world_bbox(frame, lo, hi)) for name, (frame, lo, hi) in local.items()}
    leg_box = union_box(list(boxes.values()))
    if leg_box is None:
        return None
    sdf = {name: np.full(leg_box.shape, FAR, np.float32) for name in BONE_NAMES}
    cortex = {name: np.full(leg_box.shape, 1.0, np.float32) for name in BONE_NAMES}
    cancellous = {name: np.zeros(leg_box.shape, np.float32) for name in BONE_NAMES}
    physis = np.zeros(leg_box.shape, np.float32) if detailed else None
    for name, box in boxes.items():
        if box is None:
            continue
        frame = local[name][0]
        xs, ys, zs = box.axes(grid)
        u, v, w = frame.coords(xs, ys, zs)
        field = normalise(_bone_field(name, leg, fr, u, v, w), box.spacing(grid))
        if detailed:
            _add_spurs(field, box, grid, frame, leg, name)
        sl = leg_box.sub(box)
        sdf[name][sl] = np.minimum(field, FAR)
        if detailed:
            cortex[name][sl], cancellous[name][sl] = long_bones.adjust_interior(
                name, leg, w, *_cortex_and_cancellous(name, leg, w)
            )
            if name in ("femur", "tibia") and leg.physis_hu > 0:
                physis[sl] += _physis(name, leg, fr, u, v, w)
    long_bones.add_unlabelled(sdf, leg_box, grid, fr, leg, normalise)
    _keep_bones_apart(sdf, leg)
    if physis is not None:
        cancellous["physis"] = physis
    return leg_box, sdf, cortex, cancellous


def _keep_bones_apart(sdf: dict[str, np.ndarray], leg: LegParams) -> None:
    """Carve each neighbour so bones never touch closer than their joint allows (in place).

    ``max(b, margin - a)`` keeps bone b at least ``margin`` from bone a, and survives the
    trilinear interpolation to the CT grid, so femur and tibia labels never meet.
    """
    if leg.osteoarthritis:
        margin = max(0.6 * leg.gap_medial_mm, 0.2)
        patella_margin = 1.5
    else:
        margin = min(HEALTHY_MARGIN_MM, leg.min_gap_mm)
        patella_margin = 0.8 * leg.shape.patella_gap
    np.maximum(sdf["tibia"], margin - sdf["femur"], out=sdf["tibia"])
    np.maximum(sdf["fibula"], 1.8 - sdf["tibia"], out=sdf["fibula"])
    np.maximum(sdf["patella"], patella_margin - sdf["femur"], out=sdf["patella"])
    np.maximum(sdf["patella"], 3.0 - sdf["tibia"], out=sdf["patella"])


def _leg_bone_stack(
    grid: FineGrid, factor: tuple[int, int, int], params: PhantomParams, leg: LegParams, fr: LegFrames
) -> CoarseStack | None:
    evaluated = _evaluate_bones(grid, factor, leg, fr, detailed=True)
    if evaluated is None:
        return None
    box, sdf, cortex, cancellous = evaluated
    t = params.tissues
    fem, tib, fib, pat = (sdf[n] for n in BONE_NAMES)
    inner = np.minimum(
        np.minimum(fem + cortex["femur"], tib + cortex["tibia"]),
        np.minimum(fib + cortex["fibula"], pat + cortex["patella"]),
    )
    owner = np.argmin(np.stack([fem, tib, fib, pat]), axis=0)
    share = np.choose(owner, [cancellous[n] for n in BONE_NAMES]).astype(np.float32)
    interior = t.marrow + share * (t.cancellous - t.marrow)
    if "physis" in cancellous:
        interior += np.where(owner <= 1, cancellous["physis"], 0.0)
    if leg.sclerosis_hu > 0:
        # Dense band under the loaded joint surfaces: where femur and tibia face each other
        # across a narrow gap (fem + tib is the local gap), fading with depth into the bone.
        facing = np.exp(-np.maximum(fem + tib, 0.0) * (1.0 / 5.0))
        depth = np.where(owner == 0, np.maximum(-fem, 0.0), np.maximum(-tib, 0.0))
        band = np.where(owner <= 1, facing * np.exp(-depth * (1.0 / 8.0)), 0.0)
        interior += leg.sclerosis_hu * band
    texture_amp = share * t.trabecular_sd
    cysts = _cyst_fraction(box, grid, leg, fr)
    if cysts is not None:
        interior += cysts * (15.0 - interior)
        texture_amp *= 1.0 - cysts
    xs, ys, zs = box.axes(grid)
    near = long_bones.knee_slab(zs, leg)  # tendons are near the knee: long legs skip the rest
    u, v, w = fr.leg.coords(xs, ys, zs[near])
    lens_gap = 0.5 * (leg.gap_medial_mm + leg.gap_lateral_mm) + 5.0
    dense = np.minimum(0.5 * (fem + tib - lens_gap), 0.5 * (fem + pat - (leg.shape.patella_gap + 2.0)))
    dense[near] = np.minimum(dense[near], tendons(fr, leg, u, v, w))
    data = np.stack([fem, tib, fib, pat, inner, interior, texture_amp, dense]).astype(np.float32)
    trimmed = trim(data, box, (np.minimum(np.minimum(fem, tib), np.minimum(fib, pat)) < 4.0) | (dense < 4.0))
    return None if trimmed is None else CoarseStack(trimmed[0], trimmed[1], grid)


# --------------------------------------------------------------------------- soft tissue


def _soft_box(grid: FineGrid, factor: tuple[int, int, int], leg: LegParams, fr: LegFrames) -> Box | None:
    up, down = _extent_w(grid, leg)
    g = leg.soft.girth * leg.shape.scale
    lo_u, hi_u = -135.0 * g, 135.0 * g
    lo_v, hi_v = -120.0 * g, 165.0 * g
    a = _world_bbox(fr.femur, (lo_u, lo_v, fr.axis_w - 40), (hi_u, hi_v, up))
    b = _world_bbox(fr.tibia, (lo_u, lo_v, -down), (hi_u, hi_v, fr.axis_w + 40))
    return box_around(grid, factor, np.minimum(a[0], b[0]), np.maximum(a[1], b[1]))


def _soft_stack(
    grid: FineGrid, factor: tuple[int, int, int], params: PhantomParams, frames: list[LegFrames]
) -> tuple[CoarseStack | None, float | None]:
    boxes = [_soft_box(grid, factor, leg, fr) for leg, fr in zip(params.legs, frames)]
    box = union_box(boxes)
    if box is None:
        return None, None
    shape = box.shape
    outlines, fats, pockets, vessels, septa, covers = [], [], [], [], [], []
    for leg, fr, leg_box in zip(params.legs, frames, boxes):
        fields = [np.full(shape, fill, np.float32) for fill in (FAR, 0.0, FAR, FAR, FAR, FAR)]
        if leg_box is not None:
            xs, ys, zs = leg_box.axes(grid)
            soft = leg_soft_fields(fr, leg, xs, ys, zs, params.body_scale, params.fat_mm)
            sl = box.sub(leg_box)
            for target, value in zip(fields[:5], (soft.outline, soft.fat, soft.pockets, soft.vessels, soft.septa)):
                target[sl] = value
            fields[5] = _cover(grid, factor, box, leg, fr)
        for bucket, value in zip((outlines, fats, pockets, vessels, septa, covers), fields):
            bucket.append(value)
    owner = np.argmin(np.stack(outlines), axis=0) if len(outlines) > 1 else np.zeros(shape, np.int64)

    def pick(values: list[np.ndarray]) -> np.ndarray:
        return values[0] if len(values) == 1 else np.choose(owner, values).astype(np.float32)

    outline = smooth_union_all(outlines, 12.0)
    cover = np.minimum.reduce(covers) if len(covers) > 1 else covers[0]
    body = normalise(smin(outline, cover - SKIN_COVER_MM, 8.0), box.spacing(grid))
    xs, ys, zs = box.axes(grid)
    table_y = None
    if params.table.present:
        table_y = table_height(body, ys, params)
        if table_y is not None:
            support = table_support_at(xs, ys, params, table_y)
            body = smax(body, support[None, :, :], 3.0)
    muscle = smax(body + pick(fats), -pick(pockets), 4.0)
    muscle = smin(muscle, pick(vessels), 1.0)
    muscle = np.maximum(muscle, body + 1.0)
    data = np.stack([body, muscle, pick(septa)]).astype(np.float32)
    trimmed = trim(data, box, body < 4.0)
    return (None if trimmed is None else CoarseStack(trimmed[0], trimmed[1], grid)), table_y


def _cover(grid: FineGrid, factor: tuple[int, int, int], box: Box, leg: LegParams, fr: LegFrames) -> np.ndarray:
    """Bones and tendons on the soft grid: the skin must cover them."""
    out = np.full(box.shape, FAR, np.float32)
    evaluated = _evaluate_bones(grid, factor, leg, fr, detailed=False)
    if evaluated is None:
        return out
    bone_box, sdf, _, _ = evaluated
    inside = box.intersect(bone_box)
    if inside is None:
        return out
    nearest = np.minimum(np.minimum(sdf["femur"], sdf["tibia"]), np.minimum(sdf["fibula"], sdf["patella"]))
    xs, ys, zs = bone_box.axes(grid)
    near = long_bones.knee_slab(zs, leg)
    u, v, w = fr.leg.coords(xs, ys, zs[near])
    nearest[near] = np.minimum(nearest[near], tendons(fr, leg, u, v, w))
    out[box.sub(inside)] = nearest[bone_box.sub(inside)]
    return out


# --------------------------------------------------------------------------- texture


def _trabecular_tile(rng: np.random.Generator, spacing: tuple[float, float, float]) -> np.ndarray:
    """A periodic 3D texture of cancellous bone: a ridged band-pass noise (bright struts).

    Tiled over the bones; the period (128 voxels in-plane) is larger than a condyle.
    """
    shape = (48, 128, 128)
    white = rng.standard_normal(shape, dtype=np.float32)
    fine = np.array([0.55, 0.55, 0.55]) / np.asarray(spacing)
    coarse = np.array([1.6, 1.6, 1.6]) / np.asarray(spacing)
    band = ndimage.gaussian_filter(white, fine, mode="wrap") - ndimage.gaussian_filter(white, coarse, mode="wrap")
    band /= band.std() + 1e-6
    struts = np.exp(-band * band)  # ridges: high where the band-pass crosses zero
    struts -= struts.mean()
    struts /= struts.std() + 1e-6
    return struts.astype(np.float32)
