"""The rule behind every planning value, in words (written into plan.json and the report)."""

from __future__ import annotations

_SIDES = ("medial", "lateral")


def _each_side(key: str, rule: str) -> dict[str, str]:
    """One rule for the medial and the lateral value (``{side}`` in ``key`` and ``rule``), written
    once so the two sides can never be described differently."""
    return {key.format(side=side): rule.format(side=side) for side in _SIDES}


def _each_side_measure(key: str, unit: str, rule: str) -> dict[str, tuple[str, str]]:
    """:func:`_each_side` for a measure: (unit, rule) per side."""
    return {name: (unit, text) for name, text in _each_side(key, rule).items()}


LANDMARKS = {
    "femur": {
        "epicondyle_medial": "most medial 1.5 mm patch of the femur surface 25-60 mm above the distal condylar level (clinical TEA end)",
        "epicondyle_lateral": "most lateral 1.5 mm patch of the femur surface 25-60 mm above the distal condylar level",
        **_each_side(
            "distal_{side}",
            "lowest 1 mm patch of the {side} condyle (within 8 mm of its posterior point) along the femoral shaft axis",
        ),
        **_each_side("posterior_{side}", "most posterior 0.5 mm patch of the {side} condyle (below 28 mm)"),
        "trochlear_groove": "deepest point of the anterior outline 22 mm above the distal condylar level (bins within 1 mm of the deepest, weighted)",
        "notch_centre": "apex of the intercondylar notch: where the lowest femur surface (per 1 mm ML) is highest between the condyles, at their AP level",
        "medial_sulcus": "medial epicondylar sulcus (surgical TEA's medial end): the deepest dent, at least 0.5 mm and 6 times the surface's own spread about the fit (a Gaussian of sigma 2 mm fitted with a quadric in 6 mm discs of the medial surface, osteophytes and ridges down-weighted), 2 mm anterior to 12 mm posterior and 9 mm distal to 4 mm proximal of the medial epicondyle; not sought on slices over 2 mm",
        "femoral_head_centre": "centre of a sphere fitted to the femur's top 45 mm medial of the shaft (when the scan reaches the hip)",
    },
    "tibia": {
        **_each_side(
            "plateau_{side}",
            "{side} plateau centre: half-way between rim and eminence (ML), middle of the outline (AP), on the surface",
        ),
        **_each_side(
            "plateau_lowest_{side}",
            "lowest 1 mm patch of the articular surface within 6 mm of the {side} plateau centre",
        ),
        **_each_side("eminence_{side}", "highest 0.3 mm patch of the {side} intercondylar tubercle"),
        "tuberosity": "most anterior 1 mm patch of the tibia 18-70 mm below its top",
        "ankle_centre": "centre of the tibial plafond: centroid of the 4 mm slab above the lowest full-width slab (when the scan reaches the ankle)",
    },
}

AXES = {
    "femur": {
        "femoral_shaft_axis": "line through the centroids of 2 mm slabs of the femoral diaphysis (55 mm above the condyles to the scan's end)",
        "transepicondylar_axis": "lateral to medial epicondyle (clinical TEA)",
        "surgical_tea": "lateral epicondyle to medial sulcus (surgical TEA); the clinical TEA, said in the note, when the sulcus is not discernible",
        "posterior_condylar_axis": "medial to lateral posterior condyle point",
        "distal_condylar_line": "medial to lateral distal condyle point",
        "whiteside_line": "notch apex to trochlear groove (Whiteside's AP line)",
        "femoral_mechanical_axis": "femoral head centre to notch apex",
    },
    "tibia": {
        "tibial_shaft_axis": "line through the centroids of 2 mm slabs of the tibial diaphysis (55 mm below the top to the scan's end)",
        "plateau_line": "medial to lateral plateau centre",
        "plateau_plane_normal": "normal of the plane fitted to the articular surface within 10 mm of both centres",
        "tibial_mechanical_axis": "plateau midpoint (between the plateau centres) to ankle centre",
    },
}

_CT_ENDS = (
    "; with the CT, each end moved along the measuring direction to the bone's half-maximum edge"
    " (half-way between cortical peak and soft tissue) where the CT shows a clear one"
)

MEASURES = {
    "femur_ap_mm": (
        "mm",
        "antero-posterior extent of the distal femur below 28 mm from the distal condylar level (sizing)" + _CT_ENDS,
    ),
    "femur_ml_mm": (
        "mm",
        "medio-lateral extent of the distal femur from 5 mm below to 12 mm above the distal condylar level (sizing; osteophytes included)"
        + _CT_ENDS,
    ),
    "tibia_ml_mm": ("mm", "medio-lateral extent of the tibia 8-10 mm below the plateau centres (sizing)" + _CT_ENDS),
    "tibia_ap_mm": ("mm", "antero-posterior extent of the tibia 8-10 mm below the plateau centres (sizing)" + _CT_ENDS),
    "posterior_condylar_angle_deg": (
        "deg",
        "surgical TEA (the clinical TEA when the sulcus is not discernible; the note says which) against the posterior condylar axis, perpendicular to the femoral shaft; + = TEA externally rotated (its lateral end further back)",
    ),
    "posterior_condylar_angle_clinical_deg": (
        "deg",
        "clinical TEA (epicondyle to epicondyle) against the posterior condylar axis, perpendicular to the femoral shaft; + = TEA externally rotated",
    ),
    "aldfa_deg": (
        "deg",
        "anatomical lateral distal femoral angle: femoral shaft axis to distal condylar line, lateral side",
    ),
    "whiteside_tea_deg": ("deg", "Whiteside's line against the TEA in the femur's axial plane"),
    "mpta_deg": ("deg", "medial proximal tibial angle: tibial shaft axis to plateau line, medial side"),
    **_each_side_measure(
        "slope_{side}_deg",
        "deg",
        "posterior slope of the {side} plateau against the plane perpendicular to the tibial shaft",
    ),
    "joint_line_orientation_deg": (
        "deg",
        "plateau line against the scanner's left-right axis (coronal); + = lateral side higher",
    ),
    **_each_side_measure(
        "joint_space_{side}_mm", "mm", "shortest femur-tibia distance within 12 mm of the {side} plateau centre"
    ),
    "distal_femoral_valgus_deg": (
        "deg",
        "femoral shaft (anatomical) axis against the hip-to-notch (mechanical) axis, coronal; needs the hip",
    ),
    "mldfa_deg": (
        "deg",
        "mechanical lateral distal femoral angle: mechanical axis to distal condylar line, lateral side; needs the hip",
    ),
    "hka_deg": (
        "deg",
        "hip-knee-ankle angle in the femur's coronal plane: 180 + the tibial mechanical axis' turn against the femoral one (< 180 varus); needs hip and ankle",
    ),
}
