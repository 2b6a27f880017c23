"""What the wide generator draws on top of the classic knee: implants, contrast, plaques, fabella, aids.

Implants, vessels and the fabella are evaluated per CT slice on small windows (exact at
the CT's resolution, no 3D temporaries); positioning aids are 2D layers added to the
background every slice starts from. Metal voxels are labelled 0 and their fraction per
pixel is handed to the scanner model, which turns it into streaks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.phantom.bones import condyle_centre_u
from kneeseg_app.core.phantom.frames import LegFrames
from kneeseg_app.core.phantom.grid import FineGrid
from kneeseg_app.core.phantom.params import LegParams, PhantomParams
from kneeseg_app.core.phantom.scanner import ScannerState, finish_slice, prepare
from kneeseg_app.core.phantom.sdf import ramp, smin
from kneeseg_app.core.phantom.variation import Aid, Implant

METAL, CONTRAST, CALCIFICATION = 6, 7, 8
OTHER_BONE = 50
"""Tissue code of unlabelled bones outside the leg fields (fabella; arm and spine in negatives)."""
F_FEM, F_TIB = 0, 1


@dataclass
class ExtrasScene:
    """Per-phantom state of the extras: leg frames, the scanner model and its per-slice scratch."""

    params: PhantomParams
    grid: FineGrid
    frames: list[LegFrames]
    scanner: ScannerState

    def composite(
        self, scene, z: float, hu: np.ndarray, lab: np.ndarray | None, tis: np.ndarray | None, width: float
    ) -> None:
        """Draw implants, vessels and fabellae into one slice (after the bones)."""
        extras = self.params.extras
        zw = float(self.grid.axis(0, z))
        for index, (leg, fr) in enumerate(zip(self.params.legs, self.frames)):
            _vessels(self, leg, fr, zw, hu, tis, width)
            if index < len(extras.fabella_mm) and extras.fabella_mm[index] > 0:
                _fabella(self, leg, fr, extras.fabella_mm[index], zw, hu, tis, width)
        for implant in extras.implants:
            if implant.leg < len(scene.legs) and len(scene.legs) == len(self.params.legs):
                got = scene.legs[implant.leg].at(z)
                if got is not None:
                    _implant(self, implant, got, zw, hu, lab, tis, width)

    def finish(self, hu: np.ndarray, lab: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return finish_slice(self.scanner, hu, lab, self.params.acquisition, self.params.extras.scanner, rng)


def attach(scene, frames: list[LegFrames]) -> None:
    """Give a scene of wide params its extras: aids in the background and the scanner model."""
    params = scene.params
    grid = scene.grid
    if scene.table_y is not None:
        draw_aids(scene.background, scene.table_mask, grid, params, scene.table_y)
    scanner = prepare(grid.shape[1:], grid.spacing[1:], params.acquisition, params.extras.scanner, params.seed)
    scanner.streak_hu = max((i.streak_hu for i in params.extras.implants), default=0.0)
    scene.extras = ExtrasScene(params, grid, frames, scanner)
    scene.fov_mask = None  # the scanner model pads (and clears labels) itself


def _window(grid: FineGrid, centre_xy: np.ndarray, half_mm: float) -> tuple[slice, slice] | None:
    ny, nx = grid.shape[1:]
    cx = grid.index_of(2, float(centre_xy[0]))
    cy = grid.index_of(1, float(centre_xy[1]))
    hx, hy = half_mm / grid.spacing[2], half_mm / grid.spacing[1]
    x0, x1 = max(int(cx - hx), 0), min(int(cx + hx) + 2, nx)
    y0, y1 = max(int(cy - hy), 0), min(int(cy + hy) + 2, ny)
    if x1 <= x0 or y1 <= y0:
        return None
    return slice(y0, y1), slice(x0, x1)


def _coords(grid: FineGrid, frame, rows: slice, cols: slice, zw: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    xs = grid.axis(2, np.arange(cols.start, cols.stop))
    ys = grid.axis(1, np.arange(rows.start, rows.stop))
    u, v, w = frame.coords(xs, ys, np.array([zw]))
    return u[0], v[0], w[0]


def _blend(target: np.ndarray, alpha: np.ndarray, value: float) -> None:
    target += alpha * (np.float32(value) - target)


def _line_window(
    ex: ExtrasScene, frame, a_local: np.ndarray, b_local: np.ndarray, zw: float, half: float
) -> tuple[slice, slice] | None:
    """Window around where the segment a-b (local coords) crosses the slice at height zw."""
    a, b = frame.to_world(a_local), frame.to_world(b_local)
    lo, hi = min(a[2], b[2]) - half, max(a[2], b[2]) + half
    if not lo <= zw <= hi or abs(b[2] - a[2]) < 1e-6:
        return None
    t = float(np.clip((zw - a[2]) / (b[2] - a[2]), 0.0, 1.0))
    slope = math.hypot(b[0] - a[0], b[1] - a[1]) / abs(b[2] - a[2])
    return _window(ex.grid, a + t * (b - a), half * (1.0 + min(slope, 3.0)))


def _vessels(
    ex: ExtrasScene, leg: LegParams, fr: LegFrames, zw: float, hu: np.ndarray, tis: np.ndarray | None, width: float
) -> None:
    """Contrast in the popliteal/femoral artery and calcified plaques in its wall.

    The artery runs behind the femur in the femur's frame and behind the tibia in the
    tibia's, so it follows the knee when it bends and never crosses a bone.
    """
    vessels = ex.params.extras.vessels
    if vessels.contrast_hu is None and not vessels.plaques:
        return
    s, r = leg.shape.scale, leg.shape.cond_radius
    axis_u, axis_v, radius = -4.0 * s, r + 10.0 * s, 3.5 * s
    for frame, lo, hi in ((fr.femur, fr.axis_w, fr.axis_w + 250.0), (fr.tibia, fr.axis_w - 150.0, fr.axis_w)):
        a, b = np.array([axis_u, axis_v, lo]), np.array([axis_u, axis_v, hi])
        win = _line_window(ex, frame, a, b, zw, 12.0)
        if win is None:
            continue
        rows, cols = win
        u, v, w = _coords(ex.grid, frame, rows, cols, zw)
        h = hu[rows, cols]
        if vessels.contrast_hu is not None:
            lumen = np.maximum(np.sqrt((u - axis_u) ** 2 + (v - axis_v) ** 2) - radius, np.maximum(w - hi, lo - w))
            _blend(h, ramp(lumen, width), vessels.contrast_hu)
            if tis is not None:
                tis[rows, cols][lumen < 0] = CONTRAST
        for along, angle, size in vessels.plaques:
            centre = np.array([axis_u + radius * math.cos(angle), axis_v + radius * math.sin(angle), fr.axis_w + along])
            if not lo - size <= centre[2] <= hi + size:
                continue
            plaque = np.sqrt((u - centre[0]) ** 2 + (v - centre[1]) ** 2 + ((w - centre[2]) * 0.6) ** 2) - size
            if float(plaque.min()) < width:
                _blend(h, ramp(plaque, width), vessels.calcification_hu)
                if tis is not None:
                    tis[rows, cols][plaque < 0] = CALCIFICATION


def _fabella(
    ex: ExtrasScene,
    leg: LegParams,
    fr: LegFrames,
    size: float,
    zw: float,
    hu: np.ndarray,
    tis: np.ndarray | None,
    width: float,
) -> None:
    """A sesamoid bone behind the lateral condyle, in the gastrocnemius tendon (label 0)."""
    k = leg.shape
    centre = np.array([condyle_centre_u(k, medial=False) + 2.0, k.cond_radius + 4.0 + 0.8 * size, fr.axis_w + 4.0])
    world = fr.femur.to_world(centre)
    if abs(world[2] - zw) > 1.6 * size + 2.0:
        return
    win = _window(ex.grid, world, 1.6 * size + 3.0)
    if win is None:
        return
    rows, cols = win
    u, v, w = _coords(ex.grid, fr.femur, rows, cols, zw)
    du, dv, dw = (u - centre[0]) / (0.9 * size), (v - centre[1]) / (0.8 * size), (w - centre[2]) / (1.1 * size)
    sdf = (np.sqrt(du * du + dv * dv + dw * dw) - 1.0) * (0.8 * size)
    t = ex.params.tissues
    h = hu[rows, cols]
    _blend(h, ramp(sdf, width), t.cortical)
    _blend(h, ramp(sdf + 0.9, width), t.cancellous)
    if tis is not None:
        tis[rows, cols][sdf < 0] = OTHER_BONE


def _implant(
    ex: ExtrasScene,
    implant: Implant,
    got,
    zw: float,
    hu: np.ndarray,
    lab: np.ndarray | None,
    tis: np.ndarray | None,
    width: float,
) -> None:
    rows, cols, f = got
    leg = ex.params.legs[implant.leg]
    fr = ex.frames[implant.leg]
    if implant.kind == "tkr":
        metal = _tkr(ex, implant, leg, fr, f, rows, cols, zw)
    elif implant.kind == "plate":
        metal = _plate(ex, implant, leg, fr, f, rows, cols, zw)
    else:
        metal = _nail(ex, implant, leg, fr, f, rows, cols, zw)
    if metal is None or float(metal.min()) > width:
        return
    alpha = ramp(metal, width)
    _blend(hu[rows, cols], alpha, implant.hu)
    np.maximum(ex.scanner.metal[rows, cols], alpha, out=ex.scanner.metal[rows, cols])
    inside = metal < 0
    if lab is not None:
        lab[rows, cols][inside] = 0
    if tis is not None:
        tis[rows, cols][inside] = METAL


def _tkr(ex, implant, leg, fr, f, rows, cols, zw) -> np.ndarray:
    """Femoral component (a shell over condyles and trochlea), tibial tray and stem."""
    s, t = leg.shape.scale, implant.thickness_mm
    uf, vf, wf = _coords(ex.grid, fr.femur, rows, cols, zw)
    limit = np.where(vf < -8.0 * s, fr.axis_w + 40.0 * s, fr.axis_w + 20.0 * s)
    shell = np.maximum(np.abs(f[F_FEM] + 0.5 * t) - 0.5 * t, wf - limit)
    ut, vt, wt = _coords(ex.grid, fr.tibia, rows, cols, zw)
    tray = np.maximum(f[F_TIB], -(wt + t + 4.0))
    stem = np.maximum(np.sqrt((ut + 2.0) ** 2 + (vt + 1.0) ** 2) - 6.0 * s, np.maximum(wt + 60.0 * s, -wt - 6.0))
    return np.minimum(np.minimum(shell, tray), stem)


def _bone_axes(leg: LegParams, implant: Implant, wf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if implant.bone == "femur":
        k = leg.shape
        r = k.cond_radius
        uc = math.tan(math.radians(k.femur_valgus_deg)) * np.maximum(wf - (r + 10.0), 0.0)
        vc = np.interp(wf, [r, r + 30, r + 70], [-6.0, -10.0, -13.0 * k.scale]).astype(np.float32)
        return uc.astype(np.float32), vc
    return np.full_like(wf, -2.0), np.full_like(wf, -1.0)


def _range_w(leg: LegParams, fr: LegFrames, implant: Implant, length: float) -> tuple[float, float]:
    if implant.bone == "femur":
        start = fr.axis_w + 8.0
        return start, start + length
    return -12.0 - length, -12.0


def _plate(ex, implant, leg, fr, f, rows, cols, zw) -> np.ndarray:
    """A plate hugging the lateral or medial face of the bone, with screws across it."""
    frame = fr.femur if implant.bone == "femur" else fr.tibia
    bone = f[F_FEM] if implant.bone == "femur" else f[F_TIB]
    u, v, w = _coords(ex.grid, frame, rows, cols, zw)
    uc, vc = _bone_axes(leg, implant, w)
    t, side = implant.thickness_mm, implant.side
    w0, w1 = _range_w(leg, fr, implant, 170.0 * leg.shape.scale)
    sector = 0.5 * np.abs(v - vc) - side * (u - uc)
    plate = np.maximum(np.maximum(np.abs(bone - (0.5 * t + 0.3)) - 0.5 * t, sector), np.maximum(w0 - w, w - w1))
    screws = np.full_like(plate, 60.0)
    for i in range(implant.screws):
        wi = w0 + (i + 0.5) * (w1 - w0) / implant.screws
        across = np.sqrt((v - vc) ** 2 + (w - wi) ** 2) - 2.3
        screws = np.minimum(screws, np.maximum(across, bone - (t + 0.3)))
    return smin(plate, screws, 0.5)


def _nail(ex, implant, leg, fr, f, rows, cols, zw) -> np.ndarray:
    """An intramedullary nail down the canal with two locking screws near its end."""
    frame = fr.femur if implant.bone == "femur" else fr.tibia
    bone = f[F_FEM] if implant.bone == "femur" else f[F_TIB]
    u, v, w = _coords(ex.grid, frame, rows, cols, zw)
    uc, vc = _bone_axes(leg, implant, w)
    w0, w1 = _range_w(leg, fr, implant, 330.0 * leg.shape.scale)
    w0, w1 = (w0 + 12.0, w1 + 200.0) if implant.bone == "femur" else (w0 - 200.0, w1 - 8.0)
    rod = np.maximum(np.sqrt((u - uc) ** 2 + (v - vc) ** 2) - 5.5 * leg.shape.scale, np.maximum(w0 - w, w - w1))
    near = w0 + 25.0 if implant.bone == "femur" else w1 - 25.0
    for wi in (near, near + (20.0 if implant.bone == "femur" else -20.0)):
        lock = np.maximum(np.sqrt((v - vc) ** 2 + (w - wi) ** 2) - 2.5, bone - 0.5)
        rod = np.minimum(rod, lock)
    return rod


def draw_aids(image: np.ndarray, mask: np.ndarray, grid: FineGrid, params: PhantomParams, table_y: float) -> None:
    """Foam wedges, gel pads, rails and straps around the legs (2D, every slice), in place."""
    ny, nx = grid.shape[1:]
    xs = grid.axis(2, np.arange(nx)).astype(np.float32)[None, :]
    ys = grid.axis(1, np.arange(ny)).astype(np.float32)[:, None]
    side = params.table.side
    width = min(grid.spacing[1:])
    knees = np.array([leg.knee_lps for leg in params.legs])
    centre_x = float(knees[:, 0].mean())
    for aid in params.extras.aids:
        x0 = centre_x + aid.x_offset_mm
        depth = side * (table_y - ys)  # mm from the table top towards the patient
        if aid.kind == "qct":
            _qct(image, mask, xs, depth, x0, aid, width)
            continue
        if aid.kind == "strap":
            sdf = _strap(xs, ys, knees, params, aid)
        elif aid.kind == "rails":
            edge = np.abs(np.abs(xs - x0) - 0.5 * aid.width_mm) - 6.0
            sdf = np.maximum(edge, np.abs(depth - 0.5 * aid.height_mm) - 0.5 * aid.height_mm)
        else:
            across = np.abs(xs - x0) - 0.5 * aid.width_mm
            slope = (
                depth - aid.height_mm * (0.4 + 0.6 * np.abs(xs - x0) / max(0.5 * aid.width_mm, 1.0))
                if aid.kind == "wedge"
                else depth - aid.height_mm
            )
            sdf = np.maximum(np.maximum(across, slope), -depth)
        alpha = ramp(sdf.astype(np.float32), width)
        image += alpha * (np.float32(aid.hu) - image)
        mask |= alpha > 0.5


def _qct(
    image: np.ndarray, mask: np.ndarray, xs: np.ndarray, depth: np.ndarray, x0: float, aid: Aid, width: float
) -> None:
    """A calibration block on the table with a row of bone-density rods (in place)."""
    block = np.maximum(np.abs(xs - x0) - 0.5 * aid.width_mm, np.abs(depth - 0.5 * aid.height_mm) - 0.5 * aid.height_mm)
    alpha = ramp(block.astype(np.float32), width)
    image += alpha * (np.float32(aid.hu) - image)
    mask |= alpha > 0.5
    pitch = aid.width_mm / (len(aid.inserts) + 1)
    radius = min(0.3 * aid.height_mm, 0.35 * pitch)
    for i, value in enumerate(aid.inserts):
        cx = x0 - 0.5 * aid.width_mm + (i + 1) * pitch
        rod = np.sqrt((xs - cx) ** 2 + (depth - 0.5 * aid.height_mm) ** 2) - radius
        image += ramp(rod.astype(np.float32), width) * (np.float32(value) - image)


def _strap(xs: np.ndarray, ys: np.ndarray, knees: np.ndarray, params: PhantomParams, aid: Aid) -> np.ndarray:
    """A band around the legs (on the side away from the table), a few mm off the skin."""
    half = 55.0 * params.body_scale + 0.6 * params.fat_mm + 6.0
    cx, cy = float(knees[:, 0].mean()), float(knees[:, 1].mean()) + 8.0
    a = 0.5 * float(np.ptp(knees[:, 0])) + half
    b = half
    ring = np.abs(np.sqrt(((xs - cx) / a) ** 2 + ((ys - cy) / b) ** 2) - 1.0) * min(a, b) - 0.5 * aid.height_mm
    return np.maximum(ring, params.table.side * (ys - cy))
