"""Wrap the anatomy rules' raw numbers as findings: value, rule, status, confidence, note.

Confidence follows the data, not the rule: a landmark is ``high`` on slices of 1.25 mm or
thinner, ``medium`` up to 2.5 mm, ``low`` beyond, and one step lower when the bone's shaft
axis could not be fitted (its frame then leans on the scanner's z axis). A shaft axis is
``high`` when fitted over 40 mm or more of diaphysis, ``medium`` over 20 mm, ``low`` below.
"""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.anatomy import BoneCloud, FemurAnatomy, TibiaAnatomy, plateau_plane
from kneeseg_app.core.anatomy.rules import MIN_SHAFT_SPAN_MM, ShaftFit
from kneeseg_app.core.planning.methods import AXES, LANDMARKS, MEASURES
from kneeseg_app.core.planning.model import BonePlan, Finding
from kneeseg_app.core.volume import Volume

LEVELS = ("high", "medium", "low")


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


def _points(bone: str, points: dict, confidence: str, notes: dict) -> dict[str, Finding]:
    out = {}
    for name, method in LANDMARKS[bone].items():
        p = points.get(name)
        if p is None:
            out[name] = Finding(
                name,
                "landmark",
                method,
                status="not_found",
                confidence="low",
                note=notes.get(name, "rule found no such point"),
            )
        else:
            out[name] = Finding(name, "landmark", method, confidence=confidence, point=np.asarray(p))
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


def _far_end(cloud: BoneCloud, top: bool) -> Finding:
    """Femoral head / ankle: reported missing when the bone runs out of the scan."""
    pos = cloud.surface @ cloud.scan_normal
    cut = (
        (cloud.scan_range[1] - pos.max() < 1.5 * cloud.step_mm)
        if top
        else (pos.min() - cloud.scan_range[0] < 1.5 * cloud.step_mm)
    )
    part = "hip" if top else "ankle"
    if cut:
        return Finding(
            "",
            "landmark",
            "",
            status="not_in_scan",
            confidence="high",
            note=f"the scan cuts the bone before the {part}",
        )
    return Finding(
        "",
        "landmark",
        "",
        status="not_implemented",
        confidence="low",
        note=f"the bone ends inside the scan but {part} detection is not implemented",
    )


def femur_plan(fem: FemurAnatomy, cloud: BoneCloud) -> BonePlan:
    level = _point_confidence(cloud, fem.shaft)
    found = _points("femur", fem.points, level, fem.notes)
    found["femoral_shaft_axis"] = _shaft_finding("femoral_shaft_axis", "femur", fem.shaft)
    found["transepicondylar_axis"] = line_between(
        "transepicondylar_axis", "femur", found["epicondyle_lateral"], found["epicondyle_medial"]
    )
    found["posterior_condylar_axis"] = line_between(
        "posterior_condylar_axis", "femur", found["posterior_medial"], found["posterior_lateral"]
    )
    found["distal_condylar_line"] = line_between(
        "distal_condylar_line", "femur", found["distal_medial"], found["distal_lateral"]
    )
    found["whiteside_line"] = line_between("whiteside_line", "femur", found["notch_centre"], found["trochlear_groove"])
    head = _far_end(cloud, top=True)
    head.name, head.method = "femoral_head_centre", "centre of a sphere fitted to the femoral head"
    found["femoral_head_centre"] = head
    mech = Finding(
        "femoral_mechanical_axis",
        "axis",
        AXES["femur"]["femoral_mechanical_axis"],
        status=head.status,
        confidence=head.confidence,
        note=head.note,
    )
    found["femoral_mechanical_axis"] = mech
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
    ankle = _far_end(cloud, top=False)
    ankle.name, ankle.method = "ankle_centre", "midpoint of the malleoli / centre of the talar dome"
    found["ankle_centre"] = ankle
    found["tibial_mechanical_axis"] = Finding(
        "tibial_mechanical_axis",
        "axis",
        AXES["tibia"]["tibial_mechanical_axis"],
        status=ankle.status,
        confidence=ankle.confidence,
        note=ankle.note,
    )
    return BonePlan("tibia", tib.frame.origin, tib.frame.rotation, found)


NEEDS_FEMUR_SHAFT = ("aldfa_deg",)
NEEDS_TIBIA_SHAFT = ("mpta_deg", "slope_medial_deg", "slope_lateral_deg")
NEEDS_HIP = ("distal_femoral_valgus_deg", "mldfa_deg", "hka_deg")


def measures_plan(
    values: dict, fem: FemurAnatomy | None, tib: TibiaAnatomy | None, labels: Volume
) -> dict[str, Finding]:
    step = max(labels.spacing_zyx)
    base = "high" if step <= 1.25 else "medium" if step <= 2.5 else "low"
    out = {}
    for name, (unit, method) in MEASURES.items():
        value = values.get(name)
        finding = Finding(
            name, "measure", method, unit=unit, confidence=base, value=None if value is None else float(value)
        )
        if name in NEEDS_HIP:
            finding.status, finding.confidence = "not_in_scan", "high"
            finding.note = "needs the femoral head (and the ankle for HKA); a long-leg series of the same study is not registered yet"
        elif value is None:
            short = (name in NEEDS_FEMUR_SHAFT and fem is not None and not fem.shaft.ok) or (
                name in NEEDS_TIBIA_SHAFT and tib is not None and not tib.shaft.ok
            )
            finding.status = "scan_too_short" if short else "not_found"
            finding.confidence = "low"
            finding.note = "the shaft axis could not be fitted" if short else "its landmarks were not found"
        out[name] = finding
    return out
