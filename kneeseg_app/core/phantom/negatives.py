"""Synthetic CT without a knee, labelled all zero: the negatives of issue 12.

Leg parts away from the knee (thigh, calf, hip, ankle) are wide phantoms whose slices
start or end far from the joint; a torso (spine, ribs, organ-like blobs, bowel gas,
contrast) and an arm or forearm are drawn from ellipsoids; "table" is the table with
its aids and "air" nothing at all. All go through the same scanner model (kernel,
noise, calibration, padding) as the knees, so a network cannot tell them apart by
anything but anatomy.

Leg-part negatives do contain femur or tibia shafts. They are labelled zero because the
issue asks for "no femur or tibia without a knee"; pass ``exact_labels=True`` to keep
the shafts labelled instead (consistent with long knee scans, where they are bone).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from kneeseg_app.core.phantom.draw_wide import draw_wide_params
from kneeseg_app.core.phantom.extras import OTHER_BONE, draw_aids
from kneeseg_app.core.phantom.grid import FineGrid
from kneeseg_app.core.phantom.params import PhantomParams
from kneeseg_app.core.phantom.scanner import finish_slice, orient, prepare
from kneeseg_app.core.phantom.sdf import ellipse, ramp
from kneeseg_app.core.phantom.table import background as table_background
from kneeseg_app.core.phantom.variation import NEGATIVE_KINDS, WideChoices
from kneeseg_app.core.volume import DicomFacts, Volume

if TYPE_CHECKING:
    from kneeseg_app.core.phantom import Phantom

LEG_RANGES = {"thigh": (90.0, 330.0), "calf": (-330.0, -90.0)}
"""Slice range (mm from the joint line) of leg-part negatives; hip and ankle follow the bone lengths."""


@dataclass(frozen=True)
class Blob:
    """An ellipsoid (``semi[2]`` = inf: an elliptic cylinder), optionally a bone (cortex + interior)."""

    centre: tuple[float, float, float]
    semi: tuple[float, float, float]
    hu: float
    code: int
    cortex_mm: float = 0.0
    inner_hu: float = 0.0


def negative_params(
    kind: str,
    seed: int,
    choices: WideChoices = WideChoices(),
    shape_zyx: tuple[int, int, int] | None = None,
    spacing_zyx: tuple[float, float, float] | None = None,
) -> PhantomParams:
    """Scanner, grid and table of a negative, drawn like a wide knee phantom's (``shape_zyx`` pins the grid)."""
    if kind not in NEGATIVE_KINDS:
        raise ValueError(f"negative kind must be one of {NEGATIVE_KINDS}, got {kind!r}")
    if kind in ("thigh", "calf", "hip", "ankle"):
        # A nearly straight leg near the centre keeps the far end of the leg inside the field of view.
        straight = replace(
            choices,
            coverage_mm=(500.0, 450.0),
            flexion_deg=choices.flexion_deg if choices.flexion_deg is not None else 5.0 * (seed % 3),
            off_centre=choices.off_centre if choices.off_centre is not None else 0.1 * (seed % 4),
        )
        params = draw_wide_params(seed, straight)  # hip-to-ankle anatomy, then the grid of the part
        return _leg_part_grid(params, kind, shape_zyx, spacing_zyx)
    coverage = choices.coverage_mm or (100.0, 100.0)
    legs = choices.legs or "one"
    table = choices.table or {"table": ("curved", "flat", "mattress")[seed % 3], "air": "none"}.get(kind)
    pinned = replace(choices, coverage_mm=coverage, legs=legs, implant=choices.implant or "none", table=table)
    return draw_wide_params(seed, pinned, shape_zyx=shape_zyx, spacing_zyx=spacing_zyx)


def _leg_part_grid(
    params: PhantomParams,
    kind: str,
    shape_zyx: tuple[int, int, int] | None,
    spacing_zyx: tuple[float, float, float] | None,
) -> PhantomParams:
    """Slices away from the joint: the drawn field of view, or the asked grid, over the part's heights."""
    leg = params.legs[0]
    acq = params.acquisition
    lb = leg.long
    if kind == "hip":
        lo, hi = lb.femur_length - 150.0, lb.femur_length + 30.0
    elif kind == "ankle":
        lo, hi = -lb.tibia_length - 60.0, -lb.tibia_length + 100.0
    else:
        lo, hi = LEG_RANGES[kind]
    ny, nx = shape_zyx[1:] if shape_zyx is not None else acq.shape_zyx[1:]
    if spacing_zyx is not None:
        sy, sx = spacing_zyx[1:]
    else:
        sy, sx = acq.shape_zyx[1] * acq.spacing_zyx[1] / ny, acq.shape_zyx[2] * acq.spacing_zyx[2] / nx
    if shape_zyx is not None:
        nz = shape_zyx[0]
        sz = (hi - lo) / max(nz - 1, 1)
    else:
        sz = spacing_zyx[0] if spacing_zyx is not None else max(acq.spacing_zyx[0], (hi - lo) / 200.0)
        nz = int(round((hi - lo) / sz)) + 1
    origin = (-(nx - 1) * sx / 2.0, -(ny - 1) * sy / 2.0, leg.knee_lps[2] + lo)
    grid = dict(shape_zyx=(nz, ny, nx), spacing_zyx=(sz, sy, sx), origin_xyz=origin)
    return replace(params, acquisition=replace(acq, **grid))


def generate_negative(
    kind: str,
    seed: int,
    choices: WideChoices = WideChoices(),
    *,
    exact_labels: bool = False,
    with_tissues: bool = False,
    shape_zyx: tuple[int, int, int] | None = None,
    spacing_zyx: tuple[float, float, float] | None = None,
) -> Phantom:
    """A no-knee CT of ``kind`` (one of NEGATIVE_KINDS) with all-zero labels."""
    from kneeseg_app.core.phantom import Phantom, render_phantom

    start = time.perf_counter()
    params = negative_params(kind, seed, choices, shape_zyx, spacing_zyx)
    if kind in ("thigh", "calf", "hip", "ankle"):
        phantom = render_phantom(params, with_tissues=with_tissues)
        if not exact_labels:
            phantom.labels.array[...] = 0
        phantom.ct.source = phantom.ct.source.replace("phantom", f"{kind} negative")
        return phantom
    rng = np.random.default_rng([seed, 0xB0D7])
    makers = {"torso": _torso, "arm": _arm, "head": _head, "chest": _chest}
    blobs = makers[kind](rng, params) if kind in makers else []
    ct, tissues = _render_blobs(params, blobs, kind, with_tissues)
    acq = params.acquisition
    arrays, origin, direction = orient(
        [ct, np.zeros(ct.shape, np.uint8), tissues], acq.spacing_zyx, acq.origin_xyz, acq.patient_position
    )
    facts = DicomFacts(
        modality="CT",
        series_description=f"Synthetic {kind} (no knee) {seed}",
        slice_thickness_mm=acq.spacing_zyx[0],
        convolution_kernel=acq.kernel,
        manufacturer="KneeSeg phantom",
        patient_position=acq.patient_position,
    )
    volume = Volume(arrays[0], acq.spacing_zyx, origin, direction, dicom=facts, source=f"{kind} negative seed {seed}")
    labels = volume.with_array(arrays[1], dicom=None, source=f"{kind} negative seed {seed} labels")
    tissue_volume = volume.with_array(arrays[2], dicom=None, source="tissues") if arrays[2] is not None else None
    return Phantom(volume, labels, params, tissue_volume, time.perf_counter() - start, None)


def _torso(rng: np.random.Generator, params: PhantomParams) -> list[Blob]:
    u = rng.uniform
    a, b = u(140, 190), u(95, 135)
    fat = 4.0 + 45.0 * float(rng.beta(1.6, 1.6))
    cy = u(-20, 20)
    contrast = rng.random() < 0.4
    blobs = [
        Blob((0, cy, 0), (a + fat, b + fat, math.inf), u(10, 50), 2),
        Blob((0, cy, 0), (a + fat - 2, b + fat - 2, math.inf), u(-120, -80), 3),
        Blob((0, cy, 0), (a, b, math.inf), u(35, 60), 4),
        Blob(
            (u(-60, -30), cy - 10, u(-40, 40)),
            (u(70, 100), u(60, 85), u(80, 130)),
            u(100, 140) if contrast else u(50, 70),
            60,
        ),
        Blob((u(45, 75), cy + 20, u(-40, 40)), (u(35, 50), u(30, 45), u(50, 80)), u(45, 60), 61),
        Blob(
            (u(10, 25), cy + b - 62, 0),
            (11, 11, math.inf),
            u(250, 400) if contrast else u(35, 50),
            7 if contrast else 62,
        ),
    ]
    for sign in (-1, 1):
        blobs.append(
            Blob(
                (sign * u(45, 65), cy + b - 45, u(-60, 60)),
                (u(25, 35), u(30, 40), u(45, 60)),
                u(150, 250) if contrast else u(25, 40),
                63,
            )
        )
    for _ in range(int(rng.integers(3, 9))):
        gas = rng.random() < 0.5
        blobs.append(
            Blob(
                (u(-0.6, 0.6) * a, cy + u(-0.6, 0.3) * b, u(-80, 80)),
                (u(12, 35), u(12, 30), u(20, 60)),
                -1000.0 if gas else u(0, 40),
                64 if gas else 65,
            )
        )
    return blobs + _spine_and_ribs(rng, a, b, cy)


def _spine_and_ribs(rng: np.random.Generator, a: float, b: float, cy: float) -> list[Blob]:
    """A vertebra with its posterior arch and rib cross-sections around the body wall."""
    u = rng.uniform
    vertebra_y = cy + b - 30
    body = Blob((0, vertebra_y, 0), (u(17, 23), u(15, 20), math.inf), u(900, 1400), OTHER_BONE, 1.2, u(120, 260))
    arch = Blob((0, vertebra_y + 32, 0), (u(18, 26), 10, math.inf), u(700, 1200), OTHER_BONE, 1.5, u(150, 300))
    blobs = [body, arch]
    for i in range(int(rng.integers(6, 12))):
        angle = math.pi * (0.1 + 0.8 * i / 10.0)
        for sign in (-1, 1):
            x, y = sign * 0.93 * a * math.sin(angle), cy - 0.9 * b * math.cos(angle)
            blobs.append(Blob((x, y, u(-80, 80)), (6, 5, 14), u(700, 1200), OTHER_BONE, 1.0, u(150, 300)))
    return blobs


def _head(rng: np.random.Generator, params: PhantomParams) -> list[Blob]:
    """A skull (a bright ring like a cortex) around brain, ventricles and a calcified pineal gland."""
    u = rng.uniform
    a, b, c = u(68, 80), u(88, 102), u(90, 120)
    cx, cy, cz = u(-20, 20), u(-20, 20), u(-30, 30)
    blobs = [
        Blob((cx, cy, cz), (a + 4, b + 4, c + 4), u(10, 50), 2),
        Blob((cx, cy, cz), (a, b, c), u(1200, 1900), OTHER_BONE, cortex_mm=u(4, 8), inner_hu=u(28, 42)),
    ]
    for sign in (-1, 1):
        blobs.append(
            Blob((cx + sign * u(6, 12), cy + u(-10, 5), cz + u(-10, 10)), (u(4, 8), u(18, 28), u(12, 25)), u(0, 15), 66)
        )
    if rng.random() < 0.6:
        blobs.append(Blob((cx, cy + u(10, 20), cz), (2.5, 2.5, 3.0), u(150, 600), OTHER_BONE))
    return blobs


def _chest(rng: np.random.Generator, params: PhantomParams) -> list[Blob]:
    """Chest: lungs, a heart (often contrast-filled, like the one once called tibia), aorta, spine, ribs, sternum."""
    u = rng.uniform
    blobs = _torso(rng, params)[:3]
    body = blobs[2]
    a, b = body.semi[0], body.semi[1]
    cy = body.centre[1]
    contrast = rng.random() < 0.6
    for sign in (-1, 1):
        blobs.append(Blob((sign * 0.45 * a, cy, 0), (0.45 * a, 0.75 * b, math.inf), u(-900, -780), 67))
    blobs.append(
        Blob(
            (u(5, 25), cy - 0.15 * b, u(-30, 30)),
            (u(45, 60), u(40, 55), u(50, 70)),
            u(250, 450) if contrast else u(35, 50),
            68,
        )
    )
    blobs.append(
        Blob(
            (-u(10, 20), cy + 0.55 * b, 0),
            (12, 12, math.inf),
            u(250, 450) if contrast else u(35, 50),
            7 if contrast else 62,
        )
    )
    blobs.append(
        Blob((0, cy - b + 8, 0), (14, 6, math.inf), u(700, 1100), OTHER_BONE, cortex_mm=1.5, inner_hu=u(150, 300))
    )
    blobs.append(
        Blob(
            (0, cy + b - 30, 0),
            (u(16, 21), u(14, 18), math.inf),
            u(900, 1400),
            OTHER_BONE,
            cortex_mm=1.2,
            inner_hu=u(120, 260),
        )
    )
    for i in range(10):
        angle = math.pi * (0.08 + 0.84 * i / 9.0)
        for sign in (-1, 1):
            x, y = sign * 0.95 * a * math.sin(angle), cy - 0.93 * b * math.cos(angle)
            blobs.append(
                Blob((x, y, u(-80, 80)), (6, 5, 20), u(700, 1200), OTHER_BONE, cortex_mm=1.0, inner_hu=u(150, 300))
            )
    return blobs


def _arm(rng: np.random.Generator, params: PhantomParams) -> list[Blob]:
    """Upper arm (humerus: a hard negative for a femoral shaft) or forearm (two bones, like tibia and fibula)."""
    u = rng.uniform
    r = u(30, 60)
    fat = u(3, 20)
    cx, cy = u(-40, 40), u(-30, 30)
    blobs = [
        Blob((cx, cy, 0), (r + fat, 0.9 * (r + fat), math.inf), u(10, 50), 2),
        Blob((cx, cy, 0), (r + fat - 1.5, 0.9 * (r + fat) - 1.5, math.inf), u(-120, -80), 3),
        Blob((cx, cy, 0), (r, 0.9 * r, math.inf), u(35, 60), 4),
    ]
    cortical, marrow = u(1200, 1800), u(-80, 40)
    if rng.random() < 0.5:
        blobs.append(
            Blob(
                (cx + u(-5, 5), cy + u(-5, 5), 0),
                (u(10, 14), u(10, 14), math.inf),
                cortical,
                OTHER_BONE,
                u(3, 5),
                marrow,
            )
        )
    else:
        for dx in (-12.0, 12.0):
            blobs.append(
                Blob((cx + dx, cy + u(-4, 4), 0), (u(5, 8), u(5, 7), math.inf), cortical, OTHER_BONE, u(1.5, 3), marrow)
            )
    return blobs


def _render_blobs(
    params: PhantomParams, blobs: list[Blob], kind: str, with_tissues: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Slice-by-slice compositing of the blobs over air and the table, then the scanner model."""
    acq = params.acquisition
    grid = FineGrid(acq.shape_zyx, acq.spacing_zyx, acq.origin_xyz)
    ny, nx = grid.shape[1:]
    xs = grid.axis(2, np.arange(nx)).astype(np.float32)[None, :]
    ys = grid.axis(1, np.arange(ny)).astype(np.float32)[:, None]
    table_y = None
    if params.table.present and kind != "air":
        body = [b for b in blobs if b.code == 2]
        lowest = max((b.centre[1] + b.semi[1] for b in body), default=float(ys.max()) * 0.5)
        table_y = float(lowest) - params.table.compression_mm * params.table.side
    background, table_mask = table_background(grid, params, table_y)
    if table_y is not None:
        draw_aids(background, table_mask, grid, params, table_y)
    state = prepare((ny, nx), grid.spacing[1:], acq, params.extras.scanner, params.seed)
    rng = np.random.default_rng([params.seed, 2])
    ct = np.empty(grid.shape, np.int16)
    tissues = np.zeros(grid.shape, np.uint8) if with_tissues else None
    width = min(grid.spacing[1:])
    for k in range(grid.shape[0]):
        z = float(grid.axis(0, k))
        hu = background.copy()
        tis = tissues[k] if tissues is not None else None
        if tis is not None:
            tis[table_mask] = 1
        for blob in blobs:
            _draw_blob(hu, tis, blob, xs, ys, z, width)
        ct[k] = finish_slice(state, hu, None, acq, params.extras.scanner, rng)
    return ct, tissues


def _draw_blob(
    hu: np.ndarray, tis: np.ndarray | None, blob: Blob, xs: np.ndarray, ys: np.ndarray, z: float, width: float
) -> None:
    cx, cy, cz = blob.centre
    a, b, c = blob.semi
    shrink = 1.0 if math.isinf(c) else 1.0 - ((z - cz) / c) ** 2
    if shrink <= 0.01:
        return
    f = math.sqrt(shrink)
    sdf = ellipse(xs - np.float32(cx), ys - np.float32(cy), a * f, b * f)
    alpha = ramp(sdf, width)
    hu += alpha * (np.float32(blob.hu) - hu)
    if blob.cortex_mm > 0:
        inner = ellipse(
            xs - np.float32(cx), ys - np.float32(cy), max(a * f - blob.cortex_mm, 0.5), max(b * f - blob.cortex_mm, 0.5)
        )
        inside = ramp(inner, width)
        hu += inside * (np.float32(blob.inner_hu) - hu)
    if tis is not None:
        tis[sdf < 0] = blob.code
