"""Window/level of CT display: presets, mouse-drag adjustment, a histogram. Qt-free."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowLevel:
    """A display window in HU: ``width`` wide, centred on ``level``."""

    width: float
    level: float

    @property
    def low(self) -> float:
        return self.level - self.width / 2.0

    @property
    def high(self) -> float:
        return self.level + self.width / 2.0

    def describe(self) -> str:
        return f"W {self.width:.0f}  L {self.level:.0f}"


FULL_RANGE = "Full range"
PRESETS: dict[str, WindowLevel | None] = {
    "Bone": WindowLevel(2000.0, 500.0),
    "Bone (narrow)": WindowLevel(1000.0, 400.0),
    "Soft tissue": WindowLevel(400.0, 40.0),
    "Fat / muscle": WindowLevel(600.0, -50.0),
    FULL_RANGE: None,
}
"""Radiology presets; ``None`` means the data's own range (computed per volume)."""
DEFAULT_PRESET = "Bone"
MIN_WIDTH = 1.0


def data_range(array: np.ndarray, max_samples: int = 2_000_000) -> tuple[float, float]:
    """Robust (0.1 % .. 99.9 %) value range of a volume, from a strided sample."""
    sample = _sample(array, max_samples)
    if sample.size == 0:
        return (0.0, 1.0)
    low, high = np.percentile(sample, [0.1, 99.9])
    if high <= low:
        high = low + 1.0
    return float(low), float(high)


def preset_window(name: str, array: np.ndarray | None = None) -> WindowLevel:
    """The window of a named preset (the full-range one needs the data)."""
    if name not in PRESETS:
        raise KeyError(f"unknown window preset {name!r}")
    fixed = PRESETS[name]
    if fixed is not None:
        return fixed
    low, high = data_range(array) if array is not None else (-1024.0, 3071.0)
    return WindowLevel(width=max(MIN_WIDTH, high - low), level=(low + high) / 2.0)


def drag_window(start: WindowLevel, dx_pixels: float, dy_pixels: float, hu_per_pixel: float = 4.0) -> WindowLevel:
    """Window after a right-drag, as PACS viewers do.

    Horizontal movement changes the width (contrast: right widens), vertical movement
    the level (brightness: dragging up lowers the level, so the image gets brighter).
    """
    width = max(MIN_WIDTH, start.width + dx_pixels * hu_per_pixel)
    level = start.level + dy_pixels * hu_per_pixel
    return WindowLevel(width=width, level=level)


def histogram(array: np.ndarray, bins: int = 128, max_samples: int = 1_000_000) -> tuple[np.ndarray, np.ndarray]:
    """Counts and bin edges over the robust value range, from a strided sample."""
    sample = _sample(array, max_samples)
    low, high = data_range(array, max_samples)
    counts, edges = np.histogram(sample, bins=bins, range=(low, high))
    return counts, edges


def _sample(array: np.ndarray, max_samples: int) -> np.ndarray:
    """A regular subsample (a strided view, no full-volume copy)."""
    flat_step = max(1, int(np.ceil((array.size / max(1, max_samples)) ** (1.0 / 3.0))))
    return np.asarray(array[::flat_step, ::flat_step, ::flat_step] if array.ndim == 3 else array[::flat_step])
