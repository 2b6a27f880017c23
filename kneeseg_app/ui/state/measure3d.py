"""Distances and angles measured on the bones in the 3D view (points in LPS mm).

A measurement grows click by click: a distance is complete with two points, an angle
with three (the vertex in the middle, as in the slice views' angle tool). Each point
remembers the landmark it was snapped to ('' for a point on the surface), so the table
can say "epicondyle medial – epicondyle lateral".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QObject, Signal

from kneeseg_app.core.planning.serialize import user_measurement_dict
from kneeseg_app.ui.state.measure import angle_deg, distance_mm

POINTS_NEEDED = {"distance": 2, "angle": 3}


@dataclass
class Measurement3D:
    kind: str
    points: list[np.ndarray] = field(default_factory=list)
    snapped: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return len(self.points) >= POINTS_NEEDED[self.kind]

    def value(self) -> float | None:
        if not self.complete:
            return None
        p = self.points
        return distance_mm(p[0], p[1]) if self.kind == "distance" else angle_deg(p[0], p[1], p[2])

    def text(self) -> str:
        value = self.value()
        if value is None:
            return f"{len(self.points)} of {POINTS_NEEDED[self.kind]} points"
        return f"{value:.1f} mm" if self.kind == "distance" else f"{value:.1f} deg"

    def as_plan_entry(self) -> dict:
        """This measurement for plan.json's ``user_measurements`` (complete ones only)."""
        value = self.value()
        if value is None:
            raise ValueError("an incomplete measurement is not saved")
        return user_measurement_dict(self.kind, value, [p.tolist() for p in self.points], self.snapped)

    def describe(self) -> str:
        """Where it was measured: the landmarks' names, or 'surface' points."""
        names = [s.replace("_", " ") if s else "surface" for s in self.snapped]
        return " – ".join(names)


class Measure3DState(QObject):
    """The 3D measurements and the one being placed; ``changed`` after every edit."""

    changed = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.measurements: list[Measurement3D] = []
        self.pending: Measurement3D | None = None

    @property
    def mode(self) -> str | None:
        """'distance' or 'angle' while a measurement is being placed, else None."""
        return self.pending.kind if self.pending is not None else None

    def start(self, kind: str) -> None:
        """Begin a new measurement; the clicks that follow place its points."""
        if kind not in POINTS_NEEDED:
            raise ValueError(f"unknown 3D measurement {kind!r}")
        self.pending = Measurement3D(kind)
        self.changed.emit()

    def cancel(self) -> None:
        self.pending = None
        self.changed.emit()

    def add_point(self, point_lps: np.ndarray, snapped: str = "") -> Measurement3D | None:
        """Add a clicked point; returns the measurement once complete (None while it still needs points)."""
        if self.pending is None:
            return None
        self.pending.points.append(np.asarray(point_lps, dtype=np.float64))
        self.pending.snapped.append(snapped)
        done = self.pending if self.pending.complete else None
        if done is not None:
            self.measurements.append(done)
            self.pending = None
        self.changed.emit()
        return done

    def delete(self, index: int) -> None:
        del self.measurements[index]
        self.changed.emit()

    def clear(self) -> None:
        self.measurements.clear()
        self.pending = None
        self.changed.emit()

    def shown(self) -> list[Measurement3D]:
        """What the 3D view draws: every measurement and the one being placed."""
        return self.measurements + ([self.pending] if self.pending is not None and self.pending.points else [])
