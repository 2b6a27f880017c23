"""Correcting a plan by hand: move a landmark, and everything derived from it follows.

The window drags landmarks; this module (Qt-free) does the bookkeeping: the moved point is
marked as set by hand, the lines through it (TEA, surgical TEA, posterior condylar axis,
distal condylar line, Whiteside's line, plateau line) and the angles that follow from
landmarks alone (posterior condylar angles, aLDFA, Whiteside-TEA, MPTA, joint-line
orientation) are recomputed with the same formulas as the automatic plan. Sizes, slopes and joint spaces
come from the bone surfaces, not from single points, so they stay as found.
"""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.anatomy import BoneFrame, FemurAnatomy, TibiaAnatomy
from kneeseg_app.core.anatomy.derived import femur_angles, tibia_angles
from kneeseg_app.core.anatomy.rules import ShaftFit
from kneeseg_app.core.errors import EditError
from kneeseg_app.core.planning.model import BonePlan, Finding, KneePlan
from kneeseg_app.core.planning.provenance import line_between, surgical_tea

LINES = {
    "femur": (
        ("transepicondylar_axis", "epicondyle_lateral", "epicondyle_medial"),
        ("surgical_tea", "epicondyle_lateral", "medial_sulcus"),
        ("posterior_condylar_axis", "posterior_medial", "posterior_lateral"),
        ("distal_condylar_line", "distal_medial", "distal_lateral"),
        ("whiteside_line", "notch_centre", "trochlear_groove"),
    ),
    "tibia": (("plateau_line", "plateau_medial", "plateau_lateral"),),
}
FROM_LANDMARKS = (
    "posterior_condylar_angle_deg",
    "posterior_condylar_angle_clinical_deg",
    "aldfa_deg",
    "whiteside_tea_deg",
    "mpta_deg",
    "joint_line_orientation_deg",
)


def _shaft(bone: BonePlan, name: str) -> ShaftFit:
    f = bone.findings[name]
    if f.ok and f.direction is not None:
        return ShaftFit(np.asarray(f.point), np.asarray(f.direction), 1e3, 1000, 0.0)
    return ShaftFit(np.zeros(3), np.asarray(bone.frame_axes)[2], 0.0, 0, 0.0)


def _anatomy(bone: BonePlan, shaft_name: str, kind: type) -> FemurAnatomy | TibiaAnatomy:
    frame = BoneFrame(np.asarray(bone.frame_origin), *np.asarray(bone.frame_axes))
    points = {n: f.point for n, f in bone.findings.items() if f.kind == "landmark" and f.ok}
    return kind(frame, _shaft(bone, shaft_name), points)


def landmark_angles(knee: KneePlan) -> dict[str, float | None]:
    """The angles that follow from landmarks alone, from the knee's current points."""
    out: dict[str, float | None] = {}
    if "femur" in knee.bones:
        out.update(femur_angles(_anatomy(knee.bones["femur"], "femoral_shaft_axis", FemurAnatomy)))
    if "tibia" in knee.bones:
        tib = _anatomy(knee.bones["tibia"], "tibial_shaft_axis", TibiaAnatomy)
        angles = tibia_angles(tib)
        out.update({k: v for k, v in angles.items() if k in FROM_LANDMARKS})
    return {k: v for k, v in out.items() if k in FROM_LANDMARKS}


def move_landmark(knee: KneePlan, name: str, point_lps: np.ndarray) -> dict[str, float | None]:
    """Put landmark ``name`` at ``point_lps`` and update what depends on it; returns the new angles.

    Raises :class:`EditError` for a name that is not a landmark of this knee.
    """
    bone_name = next(
        (
            b
            for b, bone in knee.bones.items()
            if bone.findings.get(name, None) is not None and bone.findings[name].kind == "landmark"
        ),
        None,
    )
    if bone_name is None:
        raise EditError(f"'{name}' is not a landmark of the {knee.side or 'planned'} knee.")
    bone = knee.bones[bone_name]
    old = bone.findings[name]
    bone.findings[name] = Finding(
        name,
        "landmark",
        old.method,
        status="ok",
        confidence="high",
        note="set by hand",
        point=np.asarray(point_lps, dtype=np.float64),
    )
    for line, a, b in LINES[bone_name]:
        fallback = line == "surgical_tea" and name == "epicondyle_medial" and not bone.findings[b].ok
        if (name in (a, b) or fallback) and line in bone.findings:
            if line == "surgical_tea":
                fresh = surgical_tea(bone.findings)  # the clinical TEA while there is no sulcus
            else:
                fresh = line_between(line, bone_name, bone.findings[a], bone.findings[b])
            fresh.note = (fresh.note + "; " if fresh.note else "") + "follows a landmark set by hand"
            bone.findings[line] = fresh
    angles = landmark_angles(knee)
    for measure, value in angles.items():
        current = knee.measures.get(measure)
        if current is None or current.status in ("not_in_scan", "scan_too_short"):
            continue
        current.value = value
        current.status = "ok" if value is not None else "not_found"
        current.note = "recomputed after a landmark was set by hand"
        if measure == "posterior_condylar_angle_deg" and "femur" in knee.bones:
            surgical = knee.bones["femur"].findings["medial_sulcus"].ok
            current.note += "; against the " + ("surgical TEA" if surgical else "clinical TEA")
    return angles
