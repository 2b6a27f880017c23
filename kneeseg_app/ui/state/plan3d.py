"""What the 3D view draws of a plan: landmark points and axis lines in LPS mm. Qt-free.

Colours match the slice views' targets (femur red, tibia green). Lines between two
landmarks end at those landmarks (so a dragged landmark drags its line); a shaft axis
(a point and a direction) is drawn from its fitted diaphysis down past the joint's
landmarks; the tibial plateau plane as its outline (a circle of the tibia's ML size)
and a 30 mm normal.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.planning import KneePlan, Plan

BONE_COLOURS = {"femur": "#ff5050", "tibia": "#40e080"}
"""Landmark colour per bone, the same in the slice views and the 3D view."""
AXIS_ENDS = {
    "transepicondylar_axis": "epicondyle_medial",
    "posterior_condylar_axis": "posterior_lateral",
    "distal_condylar_line": "distal_lateral",
    "whiteside_line": "trochlear_groove",
    "femoral_mechanical_axis": "notch_centre",
    "plateau_line": "plateau_lateral",
    "tibial_mechanical_axis": "ankle_centre",
}
"""Axes drawn from their finding's point (the first landmark) to this second landmark (another
axis between two landmarks is recognised by its direction: it points exactly at its second one)."""
AXIS_COLOURS = {
    "transepicondylar_axis": "#ff9a30",
    "surgical_tea": "#ffc8a0",
    "posterior_condylar_axis": "#40d0ff",
    "distal_condylar_line": "#c08040",
    "whiteside_line": "#ff60ff",
    "femoral_shaft_axis": "#ffffff",
    "femoral_mechanical_axis": "#b080ff",
    "plateau_line": "#a0ff60",
    "tibial_shaft_axis": "#ffffff",
    "tibial_mechanical_axis": "#b080ff",
    "plateau_plane_normal": "#60ffd0",
}
OTHER_AXIS_COLOUR = "#d0d0d0"
"""Measurements are yellow (as in the slice views): no axis is."""
SHAFT_MARGIN_MM = 30.0
ON_LINE_MM = 0.01
NORMAL_LENGTH_MM = 30.0
OUTLINE_POINTS = 48


@dataclass(frozen=True)
class Marker3D:
    side: str | None
    bone: str
    name: str
    point: np.ndarray
    colour: str
    label: str


@dataclass(frozen=True)
class Line3D:
    """A polyline (two points for an axis, a closed ring for an outline)."""

    side: str | None
    name: str
    points: np.ndarray
    colour: str


@dataclass(frozen=True)
class PlanScene:
    markers: tuple[Marker3D, ...] = ()
    lines: tuple[Line3D, ...] = ()

    def marker_points(self) -> np.ndarray:
        return np.array([m.point for m in self.markers]).reshape(-1, 3)


def plan_scene(plan: Plan | None, names: bool = True) -> PlanScene:
    """Markers and lines of every knee of ``plan`` (empty without a plan; ``names``: label the markers)."""
    if plan is None:
        return PlanScene()
    two_knees = len(plan.knees) > 1
    markers: list[Marker3D] = []
    lines: list[Line3D] = []
    for knee in plan.knees:
        prefix = f"{(knee.side or '?')[0].upper()} " if two_knees else ""
        for bone_name, bone in knee.bones.items():
            for f in bone.findings.values():
                if f.kind == "landmark" and f.ok and f.point is not None:
                    label = prefix + f.name.replace("_", " ") if names else ""
                    markers.append(
                        Marker3D(
                            knee.side, bone_name, f.name, np.asarray(f.point, float), BONE_COLOURS[bone_name], label
                        )
                    )
        lines.extend(knee_lines(knee))
    return PlanScene(tuple(markers), tuple(lines))


def knee_lines(knee: KneePlan) -> list[Line3D]:
    """The axes of one knee that were found, as polylines."""
    out = []
    for bone in knee.bones.values():
        points = np.array(
            [f.point for f in bone.findings.values() if f.kind == "landmark" and f.ok and f.point is not None]
        )
        for name, f in bone.findings.items():
            if f.kind != "axis" or not f.ok or f.point is None or f.direction is None:
                continue
            colour = AXIS_COLOURS.get(name, OTHER_AXIS_COLOUR)
            start, direction = np.asarray(f.point, float), np.asarray(f.direction, float)
            if name == "plateau_plane_normal":
                out.append(Line3D(knee.side, name, np.array([start, start + NORMAL_LENGTH_MM * direction]), colour))
                out.append(Line3D(knee.side, "plateau_outline", plateau_outline(knee, start, direction), colour))
            elif name in AXIS_ENDS:
                end = knee.finding(AXIS_ENDS[name])
                if end is not None and end.ok and end.point is not None:
                    out.append(Line3D(knee.side, name, np.array([start, np.asarray(end.point, float)]), colour))
            else:
                end = landmark_ahead(start, direction, points)
                ends = np.array([start, end]) if end is not None else shaft_segment(start, direction, points)
                out.append(Line3D(knee.side, name, ends, colour))
    return out


def landmark_ahead(start: np.ndarray, direction: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
    """The nearest landmark the axis points exactly at (a line between two landmarks), if any."""
    if not len(landmarks):
        return None
    unit = direction / max(float(np.linalg.norm(direction)), 1e-12)
    t = (landmarks - start) @ unit
    off = np.linalg.norm(landmarks - start - t[:, None] * unit, axis=1)
    ahead = np.nonzero((t > 1.0) & (off < ON_LINE_MM))[0]
    return landmarks[ahead[np.argmin(t[ahead])]] if len(ahead) else None


def shaft_segment(point: np.ndarray, direction: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """An axis through ``point`` from beyond its fitted centre to beyond the bone's landmarks."""
    unit = direction / max(float(np.linalg.norm(direction)), 1e-12)
    t = (landmarks - point) @ unit if len(landmarks) else np.zeros(1)
    lo, hi = min(0.0, float(t.min())) - SHAFT_MARGIN_MM, max(0.0, float(t.max())) + SHAFT_MARGIN_MM
    return np.array([point + lo * unit, point + hi * unit])


def plateau_outline(knee: KneePlan, centre: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """A ring in the plateau plane, as wide as the tibia (ML size; else the plateau centres' spacing x 1.8)."""
    ml = knee.measures.get("tibia_ml_mm")
    radius = ml.value / 2 if ml is not None and ml.ok and ml.value else 0.0
    if not radius:
        a, b = knee.finding("plateau_medial"), knee.finding("plateau_lateral")
        radius = 0.9 * float(np.linalg.norm(a.point - b.point)) if a and b and a.ok and b.ok else 35.0
    n = normal / max(float(np.linalg.norm(normal)), 1e-12)
    helper = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(n, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(n, e1)
    angle = np.linspace(0, 2 * np.pi, OUTLINE_POINTS + 1)
    return centre + radius * (np.cos(angle)[:, None] * e1 + np.sin(angle)[:, None] * e2)
