"""Distances and angles between points of a view's plane (mm), for the measuring tools."""

from __future__ import annotations

import math
from collections.abc import Sequence


def distance_mm(a: Sequence[float], b: Sequence[float]) -> float:
    return math.hypot(b[0] - a[0], b[1] - a[1])


def angle_deg(a: Sequence[float], vertex: Sequence[float], b: Sequence[float]) -> float:
    """The angle at ``vertex`` between the rays to ``a`` and ``b`` (0-180 deg)."""
    ax, ay = a[0] - vertex[0], a[1] - vertex[1]
    bx, by = b[0] - vertex[0], b[1] - vertex[1]
    norm = math.hypot(ax, ay) * math.hypot(bx, by)
    if norm == 0:
        return 0.0
    return math.degrees(math.acos(max(-1.0, min(1.0, (ax * bx + ay * by) / norm))))
