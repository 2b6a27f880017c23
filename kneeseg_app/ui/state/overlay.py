"""Label overlays: one colour per bone, filled or outlined, as RGBA images. Qt-free."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from kneeseg_app.core.labels import LABEL_NAMES

DEFAULT_LABEL_NAMES: Mapping[int, str] = LABEL_NAMES

RESULT_COLORS: dict[int, tuple[int, int, int]] = {1: (255, 110, 50), 2: (40, 160, 255)}
"""Model result: femur orange, tibia blue (readable over grey CT)."""
REFERENCE_COLORS: dict[int, tuple[int, int, int]] = {1: (255, 235, 0), 2: (0, 255, 150)}
"""Reference segmentation (always outlined): femur yellow, tibia green."""
_SPARE_COLORS = [(220, 60, 220), (255, 60, 60), (60, 220, 60), (160, 120, 255), (0, 200, 200)]


def color_for(label: int, palette: dict[int, tuple[int, int, int]]) -> tuple[int, int, int]:
    """A label's colour; labels beyond the palette get stable spare colours."""
    if label in palette:
        return palette[label]
    return _SPARE_COLORS[(label - 1) % len(_SPARE_COLORS)]


@dataclass
class OverlayStyle:
    """How one label map is drawn."""

    palette: dict[int, tuple[int, int, int]]
    opacity: float = 0.45
    outline: bool = False
    hidden: set[int] = field(default_factory=set)

    def lookup_table(self) -> np.ndarray:
        """(256, 4) uint8 RGBA table indexed by label value; background transparent."""
        lut = np.zeros((256, 4), dtype=np.uint8)
        alpha = int(round(255 * min(max(self.opacity, 0.0), 1.0)))
        for label in range(1, 256):
            if label in self.hidden:
                continue
            lut[label, :3] = color_for(label, self.palette)
            lut[label, 3] = alpha
        return lut


def outline(labels: np.ndarray) -> np.ndarray:
    """Keep only boundary pixels of each label region (4-neighbourhood), zero elsewhere."""
    labels = np.asarray(labels)
    edge = np.zeros(labels.shape, dtype=bool)
    edge[1:, :] |= labels[1:, :] != labels[:-1, :]
    edge[:-1, :] |= labels[:-1, :] != labels[1:, :]
    edge[:, 1:] |= labels[:, 1:] != labels[:, :-1]
    edge[:, :-1] |= labels[:, :-1] != labels[:, 1:]
    # the image border closes regions that touch it
    edge[0, :] = edge[-1, :] = True
    edge[:, 0] = edge[:, -1] = True
    return np.where(edge, labels, 0).astype(labels.dtype, copy=False)


def overlay_rgba(labels: np.ndarray, style: OverlayStyle) -> np.ndarray:
    """The (rows, cols, 4) uint8 RGBA image of a 2D label slice in a given style."""
    values = np.asarray(labels)
    if values.dtype != np.uint8:
        values = np.clip(values, 0, 255).astype(np.uint8)
    if style.outline:
        values = outline(values)
    return style.lookup_table()[values]
