"""Where a size is measured: a surface's extent along one bone-frame axis, and its two ends.

The sizes (femoral AP/ML, tibial ML/AP) are extents of a bone's surface cloud. On a label map
that surface is quantised by the voxels (up to about a voxel per size), so the rule also keeps
the surface points near each end: a caller holding the CT refines the ends there, below the
voxel (:mod:`kneeseg_app.core.planning.ct_edges`). The truth's continuous surface needs no
refinement and just reads ``length_mm``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.anatomy.frame import BoneFrame

END_BAND_MM = 1.0
"""Surface points within this of an end are where its edge is sought (a voxel and a half)."""
MAX_END_POINTS = 300
"""At most this many points per end (the most extreme ones): enough to find the edge's top."""
END_NAMES = {0: ("medial", "lateral"), 1: ("anterior", "posterior")}
"""The low and high end of an extent along the frame's l and p axes."""


@dataclass(frozen=True)
class Extent:
    """A bone's extent along ``direction`` (unit, LPS, low end to high end) and the surface points
    (LPS mm) within :data:`END_BAND_MM` of each end, most extreme first."""

    direction: np.ndarray
    low: np.ndarray
    high: np.ndarray
    length_mm: float
    end_names: tuple[str, str]


def surface_extent(local: np.ndarray, axis: int, frame: BoneFrame) -> Extent:
    """The extent of bone-local surface points ``local`` along frame axis ``axis`` (0 l, 1 p)."""
    values = local[:, axis]
    order = np.argsort(values)
    low = order[values[order] <= values[order[0]] + END_BAND_MM][:MAX_END_POINTS]
    high = order[::-1][values[order[::-1]] >= values[order[-1]] - END_BAND_MM][:MAX_END_POINTS]
    return Extent(
        direction=frame.rotation[axis].copy(),
        low=frame.world(local[low]),
        high=frame.world(local[high]),
        length_mm=float(values[order[-1]] - values[order[0]]),
        end_names=END_NAMES[axis],
    )


def furthest_end(points: np.ndarray, outward: np.ndarray, edges: np.ndarray) -> float:
    """An end's position along ``outward`` (LPS dot product, mm): the furthest of the edges found
    ``edges`` mm beyond ``points`` on lines along ``outward`` (0 where a line found none)."""
    return float(np.max(points @ outward + edges))
