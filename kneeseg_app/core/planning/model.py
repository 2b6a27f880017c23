"""What a plan holds: values with their provenance (how found, how sure, or why missing).

Every landmark, axis and measurement of a knee is a :class:`Finding`: a value (a point, a
line or a number) or ``None`` with a ``status`` saying why (``not_found``,
``scan_too_short``, ``not_in_scan``, ``not_implemented``), the rule that produced it
(``method``) and a confidence (``high``, ``medium``, ``low``) with a short ``note``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

STATUSES = ("ok", "not_found", "scan_too_short", "not_in_scan", "not_implemented")
CONFIDENCES = ("high", "medium", "low")


@dataclass
class Finding:
    """One landmark (``point``), axis (``point`` + ``direction``) or measurement (``value``)."""

    name: str
    kind: str
    method: str
    status: str = "ok"
    confidence: str = "high"
    note: str = ""
    point: np.ndarray | None = None
    direction: np.ndarray | None = None
    value: float | None = None
    unit: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class BonePlan:
    """One bone of one knee: its frame and its findings."""

    bone: str
    frame_origin: np.ndarray | None
    frame_axes: np.ndarray | None
    """Rows: lateral, posterior, superior unit vectors (LPS)."""
    findings: dict[str, Finding] = field(default_factory=dict)


@dataclass
class KneePlan:
    """One knee (side) of a scan."""

    side: str | None
    side_how: str
    side_confidence: str
    bones: dict[str, BonePlan] = field(default_factory=dict)
    measures: dict[str, Finding] = field(default_factory=dict)

    def finding(self, name: str) -> Finding | None:
        for bone in self.bones.values():
            if name in bone.findings:
                return bone.findings[name]
        return self.measures.get(name)


@dataclass
class Plan:
    """Every knee of a scan, and where the input came from."""

    knees: list[KneePlan]
    labels_source: str
    ct_source: str
    spacing_zyx: tuple[float, float, float]
    shape_zyx: tuple[int, int, int]
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def knee(self, side: str) -> KneePlan | None:
        return next((k for k in self.knees if k.side == side), None)
