"""Scanner appearance of wide-variation phantoms, slice by slice (image-only axes).

Order, as in a scanner: metal streaks and beam hardening (errors in the projections,
back-projected), then the reconstruction kernel with the noise passed through it (one
FFT per slice: Gaussian blur, edge enhancement, Gibbs ringing of a hard cut-off), then
the calibration (gain and offset), the value range the scanner stores, and the padding
outside the reconstruction circle. Labels outside that circle are cleared: nothing is
reconstructed there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.fft as sfft
from scipy.special import ndtri

from kneeseg_app.core.phantom.params import Acquisition
from kneeseg_app.core.phantom.variation import Scanner

STREAK_GRID = 128
"""Coarse grid (pixels per side) on which metal projections are simulated."""
STREAK_ANGLES = 72
BONE_STREAK_MM = 30.0
BONE_STREAK_EVERY = 3
"""Bone path (cortex-equivalent, e.g. across both femora) that gives the full bone streak strength."""


_GAUSS_LUT = ndtri((np.arange(65536) + 0.5) / 65536).astype(np.float32)


def gaussian(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal samples via a 16-bit quantile table (several times faster than ``standard_normal``)."""
    index = np.frombuffer(rng.bytes(2 * int(np.prod(shape))), dtype=np.uint16).reshape(shape)
    return np.take(_GAUSS_LUT, index)


@dataclass
class ScannerState:
    """Per-phantom filters and masks (built once, used for every slice)."""

    h_image: np.ndarray
    h_noise: np.ndarray
    noise_gain: float
    outside: np.ndarray
    metal: np.ndarray
    """Metal fraction of the slice being rendered (filled by the implant renderer)."""
    streak_hu: float = 0.0
    streak_rng: np.random.Generator | None = None
    """Own stream for the streaks' photon noise, so metal never shifts the noise of other slices."""
    pixel_mm: float = 1.0
    bone_cache: np.ndarray | None = None
    bone_count: int = 0


def circle_outside(shape_yx: tuple[int, int], spacing_yx: tuple[float, float]) -> np.ndarray:
    """Pixels outside the reconstruction circle inscribed in the image."""
    ny, nx = shape_yx
    yy = (np.arange(ny) - (ny - 1) / 2.0) * spacing_yx[0]
    xx = (np.arange(nx) - (nx - 1) / 2.0) * spacing_yx[1]
    radius = min(nx * spacing_yx[1], ny * spacing_yx[0]) / 2.0
    return (yy[:, None] ** 2 + xx[None, :] ** 2) > radius * radius


def kernel_response(
    shape_yx: tuple[int, int], spacing_yx: tuple[float, float], scanner: Scanner
) -> tuple[np.ndarray, np.ndarray]:
    """Transfer functions (rfft2 layout) of the kernel for the image and for the noise."""
    fy = sfft.fftfreq(shape_yx[0], spacing_yx[0])
    fx = sfft.rfftfreq(shape_yx[1], spacing_yx[1])
    f = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    nyquist = 0.5 / max(spacing_yx)
    h = np.exp(-2.0 * math.pi**2 * scanner.psf_sigma_mm**2 * f * f)
    h *= 1.0 + scanner.edge_boost * (1.0 - np.exp(-((f / (0.35 * nyquist)) ** 2)))
    if scanner.ringing_cutoff is not None:
        h[f > scanner.ringing_cutoff * nyquist] = 0.0
    texture = np.maximum(f / nyquist, 0.03) ** scanner.noise_texture
    return h.astype(np.complex64), (h * texture).astype(np.complex64)


def prepare(
    shape_yx: tuple[int, int], spacing_yx: tuple[float, float], acq: Acquisition, scanner: Scanner, seed: int
) -> ScannerState:
    """Filters, the noise gain that makes the noise SD exactly ``acq.noise_sd``, and the circle."""
    h_image, h_noise = kernel_response(shape_yx, spacing_yx, scanner)
    probe = np.random.default_rng([seed, 77]).standard_normal(shape_yx).astype(np.float32)
    filtered = sfft.irfft2(sfft.rfft2(probe) * h_noise, s=shape_yx)
    gain = acq.noise_sd / max(float(filtered.std()), 1e-6)
    outside = circle_outside(shape_yx, spacing_yx)
    metal = np.zeros(shape_yx, np.float32)
    streak_rng = np.random.default_rng([seed, 78])
    return ScannerState(h_image, h_noise, gain, outside, metal, 0.0, streak_rng, float(min(spacing_yx)))


def finish_slice(
    state: ScannerState,
    hu: np.ndarray,
    lab: np.ndarray | None,
    acq: Acquisition,
    scanner: Scanner,
    rng: np.random.Generator,
    noise: np.ndarray | None = None,
) -> np.ndarray:
    """Streaks, kernel and noise, calibration, stored range and padding: int16-ready HU."""
    if state.streak_hu > 0 and float(state.metal.max()) > 0.5:
        hu = hu + metal_streaks(state.metal, state.streak_hu, state.streak_rng or rng)
    if scanner.bone_streak_hu > 0:
        hu = hu + _bone_streaks(state, hu, scanner.bone_streak_hu, state.streak_rng or rng)
    spectrum = sfft.rfft2(hu)
    spectrum *= state.h_image
    if acq.noise_sd > 0:
        white = noise if noise is not None else gaussian(rng, hu.shape)
        spectrum += sfft.rfft2(white) * (state.h_noise * np.float32(state.noise_gain))
    out = sfft.irfft2(spectrum, s=hu.shape).astype(np.float32, copy=False)
    out *= np.float32(scanner.hu_scale)
    out += np.float32(acq.hu_offset)
    if scanner.clip_low is not None or scanner.clip_high is not None:
        np.clip(out, scanner.clip_low, scanner.clip_high, out=out)
    if acq.padding_hu is not None:
        out[state.outside] = acq.padding_hu
        if lab is not None:
            lab[state.outside] = 0
    np.clip(out, -32768, 32767, out=out)
    np.rint(out, out=out)
    state.metal.fill(0.0)
    return out


def _bone_streaks(state: ScannerState, hu: np.ndarray, strength_hu: float, rng: np.random.Generator) -> np.ndarray:
    """Streaks of bone, recomputed every third slice (bones change slowly along z; the rest is cost)."""
    if state.bone_cache is None or state.bone_count % BONE_STREAK_EVERY == 0:
        dense = np.clip((hu - 400.0) * np.float32(1.0 / 1000.0), 0.0, 1.0)
        reference = BONE_STREAK_MM / state.pixel_mm
        zero = float(dense.max()) <= 0.2
        state.bone_cache = np.zeros_like(hu) if zero else metal_streaks(dense, strength_hu, rng, reference, 64, 36)
    state.bone_count += 1
    return state.bone_cache


def metal_streaks(
    metal: np.ndarray,
    strength_hu: float,
    rng: np.random.Generator,
    reference_px: float | None = None,
    grid: int = STREAK_GRID,
    angles: int = STREAK_ANGLES,
) -> np.ndarray:
    """Streaks and beam hardening of a metal slice by filtered back-projection of projection errors.

    The metal's path length along each ray is squared (beam hardening: dark bands between
    metal parts) and given photon-starvation noise; the error sinogram is ramp-filtered
    and back-projected on a coarse grid, then scaled to ``strength_hu`` and upsampled.
    With ``reference_px`` (a path length in pixels) the strength is reached only by paths
    that long, so thin structures streak less (used for bone).
    """
    ny, nx = metal.shape
    step, bins, n_bins = _streak_geometry(ny, nx, grid, angles)
    py, px = (-ny) % step, (-nx) % step
    coarse = (
        np.pad(metal, ((0, py), (0, px))).reshape((ny + py) // step, step, (nx + px) // step, step).mean(axis=(1, 3))
    )
    cy, cx = coarse.shape
    flat = bins + (np.arange(angles) * n_bins)[:, None]
    hit = coarse.ravel() > 0.01
    sino = np.bincount(flat[:, hit].ravel(), weights=np.tile(coarse.ravel()[hit], angles), minlength=angles * n_bins)
    sino = sino.reshape(angles, n_bins)
    scale = max(float(sino.max()), 1e-6)
    if reference_px is not None:
        strength_hu *= min(1.0, (scale * step / reference_px) ** 2)
    error = -((sino / scale) ** 2) + 0.35 * (sino / scale) * rng.standard_normal(sino.shape)
    ramp = np.abs(np.fft.fftfreq(n_bins))
    filtered = np.real(np.fft.ifft(np.fft.fft(error, axis=1) * ramp, axis=1)).astype(np.float32)
    image = np.take_along_axis(filtered, bins, axis=1).sum(axis=0).reshape(cy, cx)
    outside = np.abs(image)[coarse < 0.05]  # scaled where it shows: around the dense parts, not in them
    image *= strength_hu / max(float(np.percentile(outside if outside.size else np.abs(image), 99.5)), 1e-6)
    np.clip(image, -3.0 * strength_hu, 3.0 * strength_hu, out=image)
    image = _upsample(image.astype(np.float32), ny, nx, step)
    return image * (1.0 - np.minimum(metal, 1.0))


_GEOMETRY: dict[tuple[int, int, int, int], tuple[int, np.ndarray, int]] = {}


def _streak_geometry(ny: int, nx: int, grid: int, angles: int) -> tuple[int, np.ndarray, int]:
    """Coarse step, projection bin of every coarse pixel per angle, and the bin count (cached)."""
    key = (ny, nx, grid, angles)
    if key not in _GEOMETRY:
        step = max(1, int(math.ceil(max(ny, nx) / grid)))
        cy, cx = -(-ny // step), -(-nx // step)
        yy, xx = np.meshgrid(np.arange(cy) - cy / 2.0, np.arange(cx) - cx / 2.0, indexing="ij")
        theta = np.linspace(0.0, math.pi, angles, endpoint=False)
        n_bins = int(math.ceil(math.hypot(cy, cx))) + 2
        bins = np.rint(np.cos(theta)[:, None] * xx.ravel()[None, :] + np.sin(theta)[:, None] * yy.ravel()[None, :])
        if len(_GEOMETRY) > 4:
            _GEOMETRY.clear()
        _GEOMETRY[key] = (step, bins.astype(np.int64) + n_bins // 2, n_bins)
    return _GEOMETRY[key]


def _upsample(image: np.ndarray, ny: int, nx: int, step: int) -> np.ndarray:
    """Linear interpolation of a coarse image (``step`` fine pixels per coarse one) to ``ny`` x ``nx``."""
    (y0, y1, ty), (x0, x1, tx) = _taps(ny, image.shape[0], step), _taps(nx, image.shape[1], step)
    rows = image[y0] * (1.0 - ty)[:, None] + image[y1] * ty[:, None]
    return rows[:, x0] * (1.0 - tx) + rows[:, x1] * tx


def _taps(n_out: int, n_in: int, step: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pos = np.clip((np.arange(n_out) + 0.5) / step - 0.5, 0.0, n_in - 1.0)
    low = np.floor(pos).astype(np.int64)
    return low, np.minimum(low + 1, n_in - 1), (pos - low).astype(np.float32)


def direction_for(position: str) -> np.ndarray:
    """Direction cosines a scanner writes for a patient position (DICOM image orientation)."""
    signs = {"HFS": (1, 1, 1), "FFS": (-1, 1, -1), "HFP": (-1, -1, 1), "FFP": (1, -1, -1)}.get(
        position.upper(), (1, 1, 1)
    )
    return np.diag(np.array(signs, dtype=np.float64))


def orient(
    arrays: list[np.ndarray | None], spacing_zyx, origin_xyz, position: str
) -> tuple[list[np.ndarray | None], tuple, np.ndarray]:
    """Arrays rendered on an identity LPS grid, re-indexed as the scanner stores them for ``position``."""
    direction = direction_for(position)
    signs_xyz = np.diag(direction)
    shape = next(a for a in arrays if a is not None).shape
    corner = [0.0, 0.0, 0.0]
    flips = []
    for axis_xyz in range(3):
        dim = 2 - axis_xyz
        if signs_xyz[axis_xyz] < 0:
            corner[axis_xyz] = (shape[dim] - 1) * spacing_zyx[dim]
            flips.append(dim)
    origin = tuple(float(o + c) for o, c in zip(origin_xyz, corner))
    for array in arrays:
        if array is not None:
            _flip_in_place(array, flips)
    return arrays, origin, direction


def _flip_in_place(array: np.ndarray, dims: list[int]) -> None:
    """Reverse ``array`` along ``dims`` slice by slice (no second copy of a large volume)."""
    if 0 in dims:
        n = array.shape[0]
        for k in range(n // 2):
            top = array[k].copy()
            array[k] = array[n - 1 - k]
            array[n - 1 - k] = top
    inner = tuple(d - 1 for d in dims if d > 0)
    if inner:
        for k in range(array.shape[0]):
            array[k] = np.flip(array[k], axis=inner).copy()
