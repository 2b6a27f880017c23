"""Wrap the anatomy rules' raw numbers as findings: value, rule, status, confidence, note.

Confidence follows the data, not the rule: a landmark is ``high`` on slices of 1.25 mm or
thinner, ``medium`` up to 2.5 mm, ``low`` beyond, and one step lower when the bone's shaft
axis could not be fitted (its frame then leans on the scanner's z axis). A shaft axis is
``high`` when fitted over 40 mm or more of diaphysis, ``medium`` over 20 mm, ``low`` below.
"""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.anatomy import BoneCloud, FemurAnatomy, TibiaAnatomy, plateau_plane
from kneeseg_app.core.anatomy.femur import CUT, EDGE
from kneeseg_app.core.anatomy.rules import MIN_SHAFT_SPAN_MM, ShaftFit
from kneeseg_app.core.anatomy.sulcus import NOT_DISCERNIBLE
from kneeseg_app.core.planning.ct_edges import SizeFromCT
from kneeseg_app.core.planning.methods import AXES, LANDMARKS, MEASURES
from kneeseg_app.core.planning.model import BonePlan, Finding
from kneeseg_app.core.volume import Volume

LEVELS = ("high", "medium", "low")
SURE_SULCUS_MM = 1.0
"""A sulcus shallower than this is one confidence step less sure."""


def _lower(level: str) -> str:
    return LEVELS[min(LEVELS.index(level) + 1, 2)]


def _point_confidence(cloud: BoneCloud, shaft: ShaftFit) -> str:
    level = "high" if cloud.step_mm <= 1.25 else "medium" if cloud.step_mm <= 2.5 else "low"
    return level if shaft.ok else _lower(level)


def _shaft_finding(name: str, bone: str, shaft: ShaftFit) -> Finding:
    method = AXES[bone][name]
    if not shaft.ok:
        return Finding(
            name,
            "axis",
            method,
            status="scan_too_short",
            confidence="low",
            note=f"only {shaft.span_mm:.0f} mm of diaphysis in the scan (needs {MIN_SHAFT_SPAN_MM:.0f} mm)",
        )
    level = "high" if shaft.span_mm >= 40 else "medium" if shaft.span_mm >= 20 else "low"
    note = f"fitted over {shaft.span_mm:.0f} mm ({shaft.slabs} slabs, centroid scatter {shaft.residual_mm:.2f} mm)"
    return Finding(name, "axis", method, confidence=level, note=note, point=shaft.point, direction=shaft.direction)


def _points(
    bone: str, points: dict, confidence: str, notes: dict, cloud: BoneCloud | None = None
) -> dict[str, Finding]:
    out = {}
    for name, method in LANDMARKS[bone].items():
        p = points.get(name)
        if p is None:
            cut = notes.get(name) in (CUT, EDGE)
            out[name] = Finding(
                name,
                "landmark",
                method,
                status="not_in_scan" if cut else "not_found",
                confidence="high" if cut else "low",
                note=notes.get(name, "rule found no such point"),
            )
        else:
            out[name] = Finding(
                name, "landmark", method, confidence=confidence, point=np.asarray(p), note=notes.get(name, "")
            )
    return out


def line_between(name: str, bone: str, a: Finding, b: Finding) -> Finding:
    method = AXES[bone][name]
    if not (a.ok and b.ok):
        return Finding(name, "axis", method, status="not_found", confidence="low", note=f"needs {a.name} and {b.name}")
    vector = b.point - a.point
    return Finding(
        name,
        "axis",
        method,
        confidence=_lower(a.confidence) if a.confidence != b.confidence else a.confidence,
        point=a.point,
        direction=vector / max(np.linalg.norm(vector), 1e-12),
        note=f"length {np.linalg.norm(vector):.1f} mm",
    )


def _end_line(name: str, bone: str, a: Finding, b: Finding) -> Finding:
    """A mechanical axis: missing, with the far end's reason, when the hip or ankle is."""
    far = a if a.name in ("femoral_head_centre", "ankle_centre") else b
    if not far.ok:
        return Finding(name, "axis", AXES[bone][name], status=far.status, confidence=far.confidence, note=far.note)
    return line_between(name, bone, a, b)


def surgical_tea(found: dict[str, Finding]) -> Finding:
    """Lateral epicondyle to medial sulcus; the clinical TEA (one confidence step lower, said in
    the note) when the sulcus is not discernible."""
    if found["medial_sulcus"].ok:
        return line_between("surgical_tea", "femur", found["epicondyle_lateral"], found["medial_sulcus"])
    line = line_between("surgical_tea", "femur", found["epicondyle_lateral"], found["epicondyle_medial"])
    if line.ok:
        line.confidence = _lower(line.confidence)
        line.note = f"{NOT_DISCERNIBLE}; {line.note}"
    return line


def femur_plan(fem: FemurAnatomy, cloud: BoneCloud) -> BonePlan:
    level = _point_confidence(cloud, fem.shaft)
    found = _points("femur", fem.points, level, fem.notes)
    sulcus = found["medial_sulcus"]
    if sulcus.ok and fem.sulcus_depth_mm < SURE_SULCUS_MM:
        sulcus.confidence = _lower(sulcus.confidence)
    found["femoral_shaft_axis"] = _shaft_finding("femoral_shaft_axis", "femur", fem.shaft)
    found["transepicondylar_axis"] = line_between(
        "transepicondylar_axis", "femur", found["epicondyle_lateral"], found["epicondyle_medial"]
    )
    found["surgical_tea"] = surgical_tea(found)
    found["posterior_condylar_axis"] = line_between(
        "posterior_condylar_axis", "femur", found["posterior_medial"], found["posterior_lateral"]
    )
    found["distal_condylar_line"] = line_between(
        "distal_condylar_line", "femur", found["distal_medial"], found["distal_lateral"]
    )
    found["whiteside_line"] = line_between("whiteside_line", "femur", found["notch_centre"], found["trochlear_groove"])
    found["femoral_mechanical_axis"] = _end_line(
        "femoral_mechanical_axis", "femur", found["femoral_head_centre"], found["notch_centre"]
    )
    return BonePlan("femur", fem.frame.origin, fem.frame.rotation, found)


def tibia_plan(tib: TibiaAnatomy, cloud: BoneCloud) -> BonePlan:
    level = _point_confidence(cloud, tib.shaft)
    found = _points("tibia", tib.points, level, tib.notes)
    found["tibial_shaft_axis"] = _shaft_finding("tibial_shaft_axis", "tibia", tib.shaft)
    found["plateau_line"] = line_between("plateau_line", "tibia", found["plateau_medial"], found["plateau_lateral"])
    plane = plateau_plane(tib, cloud)
    method = AXES["tibia"]["plateau_plane_normal"]
    if plane is None:
        found["plateau_plane_normal"] = Finding(
            "plateau_plane_normal",
            "axis",
            method,
            status="not_found",
            confidence="low",
            note="needs both plateau centres",
        )
    else:
        found["plateau_plane_normal"] = Finding(
            "plateau_plane_normal", "axis", method, confidence=level, point=plane[0], direction=plane[1]
        )
    middle = Finding("plateau midpoint", "landmark", "", point=np.asarray(tib.frame.origin))
    if not (found["plateau_medial"].ok and found["plateau_lateral"].ok):
        middle.status = "not_found"
    found["tibial_mechanical_axis"] = _end_line("tibial_mechanical_axis", "tibia", middle, found["ankle_centre"])
    return BonePlan("tibia", tib.frame.origin, tib.frame.rotation, found)


NEEDS_FEMUR_SHAFT = ("aldfa_deg",)
NEEDS_TIBIA_SHAFT = ("mpta_deg", "slope_medial_deg", "slope_lateral_deg")
NEEDS_HIP = ("distal_femoral_valgus_deg", "mldfa_deg", "hka_deg")


def measures_plan(
    values: dict,
    fem: FemurAnatomy | None,
    tib: TibiaAnatomy | None,
    labels: Volume,
    sizes: dict[str, SizeFromCT] | None = None,
) -> dict[str, Finding]:
    """Every measure as a finding; a size says how its ends were found (one step less sure where
    the CT showed no clear edge: metal, touching bones)."""
    step = max(labels.spacing_zyx)
    base = "high" if step <= 1.25 else "medium" if step <= 2.5 else "low"
    out = {}
    for name, (unit, method) in MEASURES.items():
        value = values.get(name)
        finding = Finding(
            name, "measure", method, unit=unit, confidence=base, value=None if value is None else float(value)
        )
        if name in NEEDS_HIP and value is None:
            cut = fem is None or fem.notes.get("femoral_head_centre") == CUT
            if name == "hka_deg":
                cut = cut or tib is None or tib.notes.get("ankle_centre") == CUT
            finding.status, finding.confidence = ("not_in_scan", "high") if cut else ("not_found", "low")
            finding.note = (
                "needs the femoral head (and the ankle for HKA); separate long-leg series are not registered yet"
                if cut
                else "the femoral head or the ankle was not found"
            )
        elif value is None:
            short = (name in NEEDS_FEMUR_SHAFT and fem is not None and not fem.shaft.ok) or (
                name in NEEDS_TIBIA_SHAFT and tib is not None and not tib.shaft.ok
            )
            finding.status = "scan_too_short" if short else "not_found"
            finding.confidence = "low"
            finding.note = "the shaft axis could not be fitted" if short else "its landmarks were not found"
        if name == "posterior_condylar_angle_deg" and value is not None and fem is not None:
            surgical = fem.points.get("medial_sulcus") is not None
            finding.note = (
                "against the surgical TEA (lateral epicondyle to medial sulcus)"
                if surgical
                else f"against the clinical TEA: {NOT_DISCERNIBLE.split(':')[0]}"
            )
        size = (sizes or {}).get(name)
        if size is not None and value is not None:
            finding.note = size.note
            finding.confidence = finding.confidence if size.clear else _lower(finding.confidence)
        out[name] = finding
    return out
