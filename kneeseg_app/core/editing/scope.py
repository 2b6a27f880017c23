"""Which voxels an edit may change: an HU range and a "draw over" rule (as ITK-SNAP).

"Only over bone" is an HU range (e.g. 200..3000 HU): the brush then follows the cortex
instead of spilling into soft tissue. "Draw over" limits what may be overwritten: all
labels, only background (never eat the other bone), or only one given label.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np


class DrawOver(StrEnum):
    """What existing labels a stroke may overwrite."""

    ALL = "all"
    BACKGROUND = "background"
    LABEL = "label"


BONE_HU_RANGE = (200.0, 3000.0)
"""A sensible "only over bone" range for the HU-range control's preset."""


@dataclass(frozen=True)
class PaintScope:
    """The constraints of one edit; the default changes every voxel it touches."""

    hu_range: tuple[float, float] | None = None
    draw_over: DrawOver = DrawOver.ALL
    over_label: int = 0
    """The one label that may be overwritten when ``draw_over`` is LABEL."""

    def __post_init__(self) -> None:
        if self.hu_range is not None and not self.hu_range[0] <= self.hu_range[1]:
            raise ValueError("the HU range's lower bound is above its upper bound")
        object.__setattr__(self, "draw_over", DrawOver(self.draw_over))

    def allows(self, labels: np.ndarray, ct: np.ndarray | None) -> np.ndarray | bool:
        """Boolean mask (same shape as ``labels``) of the voxels this scope lets change.

        ``ct`` is the CT over the same voxels; it is needed only with an HU range.
        """
        allowed: np.ndarray | bool = True
        if self.hu_range is not None:
            if ct is None:
                raise ValueError("an HU range needs the CT")
            low, high = self.hu_range
            allowed = (ct >= low) & (ct <= high)
        if self.draw_over is DrawOver.BACKGROUND:
            allowed = allowed & (labels == 0)
        elif self.draw_over is DrawOver.LABEL:
            allowed = allowed & (labels == self.over_label)
        return allowed
