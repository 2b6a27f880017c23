"""Angles and distances derived from femoral and tibial landmarks.

Conventions (all angles in degrees):

* posterior condylar angle: the transepicondylar axis against the posterior condylar axis in
  the plane perpendicular to the femoral shaft; positive when the TEA is externally rotated
  (its lateral end further posterior; about +3 in most knees); against the surgical TEA when
  the medial sulcus was found, and always against the clinical TEA as well;
* aLDFA: the anatomical lateral distal femoral angle, between the femoral shaft axis and the
  distal condylar line, lateral side, in the femur's coronal plane;
* MPTA: medial proximal tibial angle, between the tibial shaft axis and the line through the
  plateau centres, medial side, in the tibia's coronal plane;
* Whiteside-TEA angle: Whiteside's AP line (notch apex to trochlear groove) against the TEA in
  the femur's axial plane (about 90);
* joint-line orientation: the plateau line against the scanner's left-right axis in the
  coronal (x, z) plane; positive when the lateral plateau is higher;
* joint space: the shortest distance between femur and tibia surfaces over each compartment.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from kneeseg_app.core.anatomy.femur import FemurAnatomy
from kneeseg_app.core.anatomy.frame import BoneCloud, unit
from kneeseg_app.core.anatomy.tibia import TibiaAnatomy

L, P, S = 0, 1, 2


def _angle_2d(a: np.ndarray, b: np.ndarray) -> float:
    """Unsigned angle between two 2D vectors."""
    cos = float(np.dot(a, b) / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def _rotation(tea: np.ndarray, pca: np.ndarray) -> float:
    """How far the TEA is turned from the posterior condylar axis about the shaft, deg (+ = external:
    the TEA's lateral end lies further posterior)."""
    return float(np.degrees(np.arctan2(tea[P], tea[L]) - np.arctan2(pca[P], pca[L])))


def femur_angles(fem: FemurAnatomy) -> dict[str, float | None]:
    """Femoral angles; the posterior condylar angle is taken against the surgical TEA (lateral
    epicondyle to medial sulcus) when the sulcus was found, else against the clinical TEA."""
    pts, frame = fem.points, fem.frame
    out: dict[str, float | None] = {
        "posterior_condylar_angle_deg": None,
        "posterior_condylar_angle_clinical_deg": None,
        "aldfa_deg": None,
        "whiteside_tea_deg": None,
    }

    def loc(name: str) -> np.ndarray | None:
        return None if pts.get(name) is None else frame.local(pts[name])

    em, el, pm, pl, sulcus = (
        loc("epicondyle_medial"),
        loc("epicondyle_lateral"),
        loc("posterior_medial"),
        loc("posterior_lateral"),
        loc("medial_sulcus"),
    )
    if el is not None and pm is not None and pl is not None:
        if em is not None:
            out["posterior_condylar_angle_clinical_deg"] = _rotation(el - em, pl - pm)
        medial_end = sulcus if sulcus is not None else em
        if medial_end is not None:
            out["posterior_condylar_angle_deg"] = _rotation(el - medial_end, pl - pm)
    dm, dl = loc("distal_medial"), loc("distal_lateral")
    if dm is not None and dl is not None and fem.shaft.ok:
        line = dl - dm
        out["aldfa_deg"] = _angle_2d(np.array([0.0, 1.0]), line[[L, S]])
    groove, notch = loc("trochlear_groove"), loc("notch_centre")
    if groove is not None and notch is not None and em is not None and el is not None:
        out["whiteside_tea_deg"] = _angle_2d((groove - notch)[[L, P]], (el - em)[[L, P]])
    return out


def tibia_angles(tib: TibiaAnatomy) -> dict[str, float | None]:
    pts, frame = tib.points, tib.frame
    out: dict[str, float | None] = {
        "mpta_deg": None,
        "slope_medial_deg": tib.slopes.get("medial") if tib.shaft.ok else None,
        "slope_lateral_deg": tib.slopes.get("lateral") if tib.shaft.ok else None,
        "joint_line_orientation_deg": None,
    }
    if pts.get("plateau_medial") is None or pts.get("plateau_lateral") is None:
        return out
    cm, cl = frame.local(pts["plateau_medial"]), frame.local(pts["plateau_lateral"])
    if tib.shaft.ok:
        out["mpta_deg"] = _angle_2d(np.array([0.0, 1.0]), (cm - cl)[[L, S]])
    wm, wl = pts["plateau_medial"], pts["plateau_lateral"]
    dx = abs(wl[0] - wm[0])
    out["joint_line_orientation_deg"] = float(np.degrees(np.arctan2(wl[2] - wm[2], max(dx, 1e-9))))
    return out


def joint_space(femur: BoneCloud, tibia: BoneCloud, tib: TibiaAnatomy) -> dict[str, float | None]:
    """Shortest femur-tibia distance within 12 mm (ML/AP) of each plateau centre, mm."""
    out: dict[str, float | None] = {"joint_space_medial_mm": None, "joint_space_lateral_mm": None}
    frame = tib.frame
    fl = frame.local(femur.surface)
    tl = frame.local(tibia.surface)
    for name in ("medial", "lateral"):
        c = tib.points.get(f"plateau_{name}")
        if c is None:
            continue
        c = frame.local(c)
        tsel = tl[(np.hypot(tl[:, L] - c[L], tl[:, P] - c[P]) < 12.0) & (tl[:, S] > c[S] - 6.0)]
        fsel = fl[(np.hypot(fl[:, L] - c[L], fl[:, P] - c[P]) < 12.0) & (fl[:, S] < c[S] + 20.0)]
        if len(tsel) == 0 or len(fsel) == 0:
            continue
        dist, _ = cKDTree(tsel).query(fsel, k=1)
        out[f"joint_space_{name}_mm"] = float(dist.min())
    return out


def mechanical_measures(fem: FemurAnatomy, tib: TibiaAnatomy | None) -> dict[str, float | None]:
    """Angles that need the hip (and the ankle): distal femoral valgus, mLDFA, HKA.

    In the femur's coronal plane (l, s): valgus = anatomical shaft axis against hip-to-knee
    line; mLDFA = mechanical axis to distal condylar line, lateral side; HKA = 180 deg plus the
    tibial mechanical axis' turn against the femoral one (< 180 varus, > 180 valgus).
    """
    out: dict[str, float | None] = {"distal_femoral_valgus_deg": None, "mldfa_deg": None, "hka_deg": None}
    head, notch = fem.points.get("femoral_head_centre"), fem.points.get("notch_centre")
    if head is None or notch is None:
        return out
    frame = fem.frame
    up = (frame.local(head) - frame.local(notch))[[L, S]]
    if fem.shaft.ok:
        out["distal_femoral_valgus_deg"] = float(np.degrees(np.arctan2(-up[0], up[1])))
    dm, dl = fem.points.get("distal_medial"), fem.points.get("distal_lateral")
    if dm is not None and dl is not None:
        out["mldfa_deg"] = _angle_2d(up, (frame.local(dl) - frame.local(dm))[[L, S]])
    ankle = None if tib is None else tib.points.get("ankle_centre")
    if ankle is not None:
        down_f = -up
        down_t = (frame.local(ankle) - frame.local(tib.frame.origin))[[L, S]]
        turn = np.arctan2(down_t[0], -down_t[1]) - np.arctan2(down_f[0], -down_f[1])
        out["hka_deg"] = float(180.0 + np.degrees(turn))
    return out


def knee_measures(
    fem: FemurAnatomy | None, tib: TibiaAnatomy | None, femur: BoneCloud | None, tibia: BoneCloud | None
) -> dict[str, float | None]:
    """Every derived value of one knee (None where its inputs are missing)."""
    out: dict[str, float | None] = {}
    if fem is not None:
        out.update(femur_angles(fem))
        out.update(fem.sizes)
    if tib is not None:
        out.update(tibia_angles(tib))
        out.update(tib.sizes)
    if tib is not None and femur is not None and tibia is not None:
        out.update(joint_space(femur, tibia, tib))
    if fem is not None:
        out.update(mechanical_measures(fem, tib))
    return out


def femorotibial_angle(fem: FemurAnatomy, tib: TibiaAnatomy) -> float:
    """Angle between the femoral and tibial shaft axes (deg, 0 = straight); for side checks."""
    return float(np.degrees(np.arccos(np.clip(unit(fem.shaft.direction) @ unit(tib.shaft.direction), -1, 1))))
