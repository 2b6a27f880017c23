"""From a case to CT slices and exact labels (EVALUATION ONLY, never training).

Each slice is composited tissue by tissue (table, skin, fat, muscle, septa, fat pads,
vessels, tendons, cartilage, fibula, patella, femur, tibia) with each tissue's in-plane
pixel coverage computed from its distance (analytic partial volume), at 1-5 planes
spread across the slice thickness (supersampled partial volume along z), averaged; then
the reconstruction kernel blurs or sharpens it, shaped noise is added, the calibration
offset shifts it and the circular reconstruction area is padded. Labels are the femur
and tibia at the slice's centre plane, inside the reconstruction circle.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from benchmarks.independent_phantoms.frames import axis_points
from benchmarks.independent_phantoms.leg_model import LegFields, leg_fields
from benchmarks.independent_phantoms.params import Case, Leg, Scanner
from benchmarks.independent_phantoms.shapes import coverage
from benchmarks.independent_phantoms.tables import table_image

TISSUE_HU = {
    "air": -1000.0,
    "skin": 45.0,
    "fat": -95.0,
    "muscle": 48.0,
    "septum": -80.0,
    "pad": -90.0,
    "blood": 42.0,
    "contrast": 300.0,
    "tendon": 95.0,
    "cartilage": 105.0,
}
NOISE_CUTOFF = {"soft": 0.22, "standard": 0.38, "sharp": 0.7}
"""Where the noise power spectrum of each kernel peaks (cycles/mm)."""


@dataclass(frozen=True)
class Grid:
    """The reconstruction grid: pixel centres in LPS (identity orientation), slice centres."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    pixel_mm: float

    @property
    def origin(self) -> tuple[float, float, float]:
        return float(self.x[0]), float(self.y[0]), float(self.z[0])


def grid_of(scanner: Scanner) -> Grid:
    """Pixel and slice centres of the scanner's reconstruction."""
    pixel = scanner.fov_mm / scanner.matrix
    offsets = (np.arange(scanner.matrix) - (scanner.matrix - 1) / 2.0) * pixel
    z = scanner.z_first_mm + np.arange(scanner.slices) * scanner.slice_spacing_mm
    return Grid(scanner.centre_xy[0] + offsets, scanner.centre_xy[1] + offsets, z, pixel)


def _planes(scanner: Scanner) -> np.ndarray:
    """Offsets (mm) of the planes averaged across one slice's thickness; odd count, centre included."""
    count = int(np.clip(np.ceil(scanner.slice_thickness_mm / 0.7), 1, 5)) | 1
    return (np.arange(count) - count // 2) * (scanner.slice_thickness_mm / count)


def _leg_box(leg: Leg, grid: Grid, z_lo: float, z_hi: float) -> tuple[slice, slice] | None:
    """Rows and columns that can hold this leg between two heights, or None."""
    reach = (75.0 + leg.muscle_mm + 20.0) * leg.scale + leg.fat_mm
    pts = axis_points(leg, reach_mm=700.0, step_mm=4.0)
    near = pts[(pts[:, 2] > z_lo - reach) & (pts[:, 2] < z_hi + reach)]
    if near.size == 0:
        return None
    cols = np.searchsorted(grid.x, [near[:, 0].min() - reach, near[:, 0].max() + reach])
    rows = np.searchsorted(grid.y, [near[:, 1].min() - reach, near[:, 1].max() + reach])
    if cols[0] >= cols[1] or rows[0] >= rows[1]:
        return None
    return slice(int(rows[0]), int(rows[1])), slice(int(cols[0]), int(cols[1]))


def _paint(img: np.ndarray, distance: np.ndarray, hu: float | np.ndarray, pixel: float) -> None:
    c = coverage(distance, pixel)
    img += c * (hu - img)


def _composite(img: np.ndarray, fields: list[LegFields], case: Case, pixel: float) -> None:
    """Paint every leg's tissues, layer by layer across legs (touching legs merge)."""
    blood = TISSUE_HU["contrast"] if case.scanner.contrast else TISSUE_HU["blood"]
    layers = (
        (lambda f: f.soft.body, TISSUE_HU["skin"]),
        (lambda f: f.soft.body + 1.8, TISSUE_HU["fat"]),
        (lambda f: f.soft.muscle, TISSUE_HU["muscle"]),
        (lambda f: np.maximum(f.soft.septa, f.soft.muscle + 3.0), TISSUE_HU["septum"]),
        (lambda f: np.maximum(f.soft.fat_pads, f.soft.muscle), TISSUE_HU["pad"]),
        (lambda f: f.soft.vein, TISSUE_HU["blood"]),
        (lambda f: f.soft.artery, blood),
        (lambda f: f.soft.tendon, TISSUE_HU["tendon"]),
        (lambda f: f.cartilage, TISSUE_HU["cartilage"]),
    )
    for get, hu in layers:
        for f in fields:
            _paint(img[f.box], get(f), hu, pixel)
    for bone in ("fibula", "patella", "femur", "tibia"):
        for f in fields:
            _paint(img[f.box], getattr(f, bone), f.bone_hu[bone], pixel)


def _noise_filter(scanner: Scanner, pixel: float) -> np.ndarray:
    """Amplitude of the kernel's noise power spectrum (ramp times roll-off), for rfft2 noise."""
    fy = np.fft.fftfreq(scanner.matrix, d=pixel)[:, None]
    fx = np.fft.rfftfreq(scanner.matrix, d=pixel)[None, :]
    f = np.sqrt(fx * fx + fy * fy)
    cut = NOISE_CUTOFF[scanner.kernel]
    return np.sqrt(f * np.exp(-((f / cut) ** 2)))


def _kernel(img: np.ndarray, kernel: str, pixel: float) -> np.ndarray:
    """In-plane reconstruction kernel: soft blurs, sharp overshoots at edges (ringing)."""
    if kernel == "soft":
        return ndimage.gaussian_filter(img, 0.8 / pixel)
    if kernel == "standard":
        return ndimage.gaussian_filter(img, 0.45 / pixel)
    fine = ndimage.gaussian_filter(img, 0.3 / pixel)
    return fine + 0.7 * (fine - ndimage.gaussian_filter(fine, 0.9 / pixel))


def render(case: Case, only: list[int] | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (slice index, HU image float32 (rows, cols), labels uint8) one slice at a time.

    ``only``: render just these slice indices (previews); noise stays per slice index.
    """
    scanner = case.scanner
    grid = grid_of(scanner)
    planes = _planes(scanner)
    table = table_image(case, grid.x, grid.y)
    amp = _noise_filter(scanner, grid.pixel_mm)
    yy, xx = np.meshgrid(grid.y.astype(np.float32), grid.x.astype(np.float32), indexing="ij")
    circle = (xx - scanner.centre_xy[0]) ** 2 + (yy - scanner.centre_xy[1]) ** 2 <= (scanner.fov_mm / 2) ** 2
    for k, zc in enumerate(grid.z):
        if only is not None and k not in only:
            continue
        rng = np.random.default_rng([case.seed, 991, k])
        stack = np.empty((planes.size,) + xx.shape, dtype=np.float32)
        labels = np.zeros(xx.shape, dtype=np.uint8)
        centre = _fields_at(case, grid, xx, yy, float(zc), float(zc + planes[0]), float(zc + planes[-1]))
        for p, dz in enumerate(planes):
            img = table.copy()
            fields = centre if dz == 0 else [_replane(f, case, xx, yy, float(zc + dz)) for f in centre]
            _composite(img, fields, case, grid.pixel_mm)
            stack[p] = img
        for f in centre:
            view = labels[f.box]
            view[f.tibia < 0] = 2
            view[f.femur < 0] = 1
        img = _kernel(stack.mean(axis=0), scanner.kernel, grid.pixel_mm)
        white = rng.standard_normal(xx.shape).astype(np.float32)
        noise = np.fft.irfft2(np.fft.rfft2(white) * amp, s=xx.shape).astype(np.float32)
        img += noise * (scanner.noise_hu / max(float(noise.std()), 1e-6)) + scanner.hu_offset
        img[~circle] = scanner.padding_hu
        labels[~circle] = 0
        yield k, img, labels


def _fields_at(
    case: Case, grid: Grid, xx: np.ndarray, yy: np.ndarray, z: float, z_lo: float, z_hi: float
) -> list[LegFields]:
    """Each leg's fields in the plane ``z``, over the box the leg can reach between z_lo and z_hi."""
    out = []
    for leg in case.legs:
        box = _leg_box(leg, grid, z_lo, z_hi)
        if box is None:
            continue
        xs, ys = xx[box], yy[box]
        fields = leg_fields(leg, xs, ys, np.full(xs.shape, z, dtype=np.float32))
        fields.box = box
        fields.leg = leg
        out.append(fields)
    return out


def _replane(centre: LegFields, case: Case, xx: np.ndarray, yy: np.ndarray, z: float) -> LegFields:
    """The same leg and box at another plane of the slice: new bones, the centre's soft tissue."""
    xs, ys = xx[centre.box], yy[centre.box]
    fields = leg_fields(centre.leg, xs, ys, np.full(xs.shape, z, dtype=np.float32), soft=centre.soft)
    fields.box = centre.box
    return fields
