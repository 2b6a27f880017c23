"""Distances and angles between points (mm), in a view's plane (2D) or in the patient (3D)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def distance_mm(a: Sequence[float], b: Sequence[float]) -> float:
    return math.dist([float(v) for v in a], [float(v) for v in b])


def angle_deg(a: Sequence[float], vertex: Sequence[float], b: Sequence[float]) -> float:
    """The angle at ``vertex`` between the rays to ``a`` and ``b`` (0-180 deg)."""
    ra = [float(p) - float(q) for p, q in zip(a, vertex, strict=True)]
    rb = [float(p) - float(q) for p, q in zip(b, vertex, strict=True)]
    norm = math.hypot(*ra) * math.hypot(*rb)
    if norm == 0:
        return 0.0
    dot = sum(p * q for p, q in zip(ra, rb, strict=True))
    return math.degrees(math.acos(max(-1.0, min(1.0, dot / norm))))
