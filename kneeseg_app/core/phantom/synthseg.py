"""SynthSeg-style images from a tissue map: random contrast, texture, bias, blur and resolution.

Billot et al. (2023) train on images synthesised from label maps with intensities drawn
at random per structure, so the network has to learn shapes; intensities it was never
shown cannot then mislead it. Here the label map is the phantom's tissue map (air,
table, skin, fat, muscle, tendon, metal, contrast, calcium, and cortex / cancellous /
marrow of every bone), so femur and tibia get no intensity of their own that fibula,
patella or a positioning aid could not also get. Labels are untouched: only the image
changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kneeseg_app.core.phantom.scanner import circle_outside
from kneeseg_app.core.phantom.variation import PADDINGS

PLAUSIBLE_HU: dict[int, tuple[float, float]] = {
    0: (-1024.0, -950.0),
    1: (-950.0, 600.0),
    2: (0.0, 80.0),
    3: (-140.0, -60.0),
    4: (20.0, 80.0),
    5: (60.0, 130.0),
    6: (2500.0, 8000.0),
    7: (150.0, 500.0),
    8: (300.0, 1300.0),
}
BONE_PART_HU = {0: (700.0, 2000.0), 1: (60.0, 700.0), 2: (-120.0, 80.0)}
WIDE_HU = (-1000.0, 2000.0)


@dataclass(frozen=True)
class SynthSegSettings:
    """How far the randomisation goes (each drawn per case up to these limits)."""

    beyond_probability: float = 0.3
    """Share of tissues whose HU is drawn from the whole range, not the plausible one."""
    texture_sd_max: float = 40.0
    bias_max_hu: float = 150.0
    bias_gain_max: float = 0.15
    blur_max_mm: float = 1.5
    lowres_max_factor: int = 4
    noise_sd_max: float = 50.0
    padding_probability: float = 0.5
    """Share of images padded outside the reconstruction circle (air and table only, so labels stay true)."""


def plausible_range(code: int) -> tuple[float, float]:
    """Plausible HU of a tissue code (bones 10-59 by part: 10*bone + 0 cortex, 1 cancellous, 2 marrow;
    60 and above the organ-like blobs of negatives, 64 gas, 67 lung)."""
    if code in PLAUSIBLE_HU:
        return PLAUSIBLE_HU[code]
    if 10 <= code < 60:
        return BONE_PART_HU.get(code % 10, (60.0, 700.0))
    if code == 64:
        return (-1024.0, -850.0)
    if code == 67:
        return (-950.0, -700.0)
    return (-100.0, 200.0)


def randomise_contrast(
    tissues: np.ndarray,
    spacing_zyx: tuple[float, float, float],
    rng: np.random.Generator,
    settings: SynthSegSettings = SynthSegSettings(),
) -> np.ndarray:
    """An int16 image synthesised from the tissue map ``tissues`` (same shape)."""
    codes = np.unique(tissues)
    lut = np.zeros(256, np.float32)
    sd_lut = np.zeros(256, np.float32)
    for code in codes:
        lo, hi = WIDE_HU if rng.random() < settings.beyond_probability else plausible_range(int(code))
        lut[code] = rng.uniform(lo, hi)
        sd_lut[code] = rng.uniform(0.0, settings.texture_sd_max)
    image = lut[tissues]
    texture = ndimage.gaussian_filter(
        rng.standard_normal(tissues.shape, dtype=np.float32), float(rng.uniform(0.5, 2.0))
    )
    texture *= np.float32(1.0 / max(float(texture.std()), 1e-6))
    texture *= sd_lut[tissues]
    image += texture
    del texture
    _bias(image, rng, settings)
    sigma = [float(rng.uniform(0.0, settings.blur_max_mm)) / s for s in spacing_zyx]
    if max(sigma) > 0.3:
        ndimage.gaussian_filter(image, sigma, output=image)
    factor = int(rng.integers(1, settings.lowres_max_factor + 1))
    if factor > 1:
        image = lower_resolution(image, int(rng.integers(0, 3)), factor)
    image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(rng.uniform(0.0, settings.noise_sd_max))
    if rng.random() < settings.padding_probability:
        outside = circle_outside(tissues.shape[1:], spacing_zyx[1:])[None] & (tissues <= 1)
        image[outside] = float(rng.choice([*PADDINGS, float(rng.uniform(-3000, 3000))]))
    np.clip(image, -32768, 32767, out=image)
    return np.rint(image).astype(np.int16)


def _bias(image: np.ndarray, rng: np.random.Generator, settings: SynthSegSettings) -> None:
    """Smooth additive and multiplicative bias: a sum of separable random cosines (in place)."""
    for _ in range(2):
        parts = []
        for n in image.shape:
            t = np.linspace(0.0, 1.0, n, dtype=np.float32)
            parts.append(np.cos(2 * np.pi * rng.uniform(0.2, 1.5) * t + rng.uniform(0, 2 * np.pi)).astype(np.float32))
        field = parts[0][:, None, None] * parts[1][None, :, None] * parts[2][None, None, :]
        gain = np.float32(rng.uniform(-settings.bias_gain_max, settings.bias_gain_max))
        offset = np.float32(rng.uniform(-settings.bias_max_hu, settings.bias_max_hu))
        image += field * (gain * (image + np.float32(1000.0)) + offset)


def lower_resolution(image: np.ndarray, axis: int, factor: int) -> np.ndarray:
    """Average ``factor`` voxels along ``axis`` (a thicker slice), then interpolate back linearly."""
    n = image.shape[axis]
    smooth = ndimage.uniform_filter1d(image, factor, axis=axis)
    small = np.take(smooth, np.arange(0, n, factor), axis=axis)
    pos = np.arange(n, dtype=np.float32) / factor
    i0 = np.minimum(pos.astype(np.int64), small.shape[axis] - 1)
    i1 = np.minimum(i0 + 1, small.shape[axis] - 1)
    t = (pos - i0).astype(np.float32)
    shape = [1, 1, 1]
    shape[axis] = n
    t = t.reshape(shape)
    return np.take(small, i0, axis=axis) * (1 - t) + np.take(small, i1, axis=axis) * t
