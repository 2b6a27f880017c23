"""Checks of each bone on its own: found at all, plausible size, dense, whole, inside the image and the body.

Thresholds are anatomical, chosen wide: an adult distal femur's cross-section is about
5 cm^2 in the shaft and 35-50 cm^2 across the condyles, the tibial plateau's 30-45 cm^2
(a brain or an abdomen is 150-700 cm^2); cortical bone is far above 300 HU. A check warns
where a knee might still be right and fails where no knee can look like that.
"""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.checks.measure import BoneMeasure, ComponentMeasure
from kneeseg_app.core.checks.outcome import CheckResult, Status, slice_ranges, worst
from kneeseg_app.core.inference.joint_slices import widest_around

MIN_BONE_ML = 2.0
"""Less than this of femur or tibia is no knee."""
MIN_PIECE_ML = 1.0
"""Pieces smaller than this are ignored by the per-piece checks (specks of partial volume)."""
MAJOR_SHARE = 0.25
"""A piece at least this share of its bone's largest piece counts as a bone of its own (one per leg)."""

MEAN_AREA_CM2 = {"warn": (2.5, 55.0), "fail": (1.0, 80.0)}
"""Volume per length of bone scanned (= mean cross-section) per leg."""
MAX_AREA_CM2 = {"warn": 75.0, "fail": 100.0}
"""Largest cross-section of one bone of one leg on one slice."""
DENSE_SHARE = {"warn": 0.08, "fail": 0.03}
AIR_SHARE = {"warn": 0.06, "fail": 0.2}
"""Air inside a bone label (noise in fatty osteoporotic marrow reaches a few per cent)."""
DIP_SHARE = 0.25
"""A slice whose bone area falls below this share of its neighbours' (a slab lost inside the bone)."""
OUTSIDE_AIR_SHARE = 0.5


def major_pieces(bone: BoneMeasure) -> list[ComponentMeasure]:
    """The pieces of a bone that stand for a whole bone (one per leg), largest first."""
    if not bone.components:
        return []
    largest = bone.components[0].voxels
    return [c for c in bone.components if c.voxels >= MAJOR_SHARE * largest and c.volume_ml >= MIN_PIECE_ML]


def _bone(bones: list[BoneMeasure], name: str) -> BoneMeasure | None:
    return next((b for b in bones if b.name.lower() == name), None)


def check_knee_found(bones: list[BoneMeasure], no_knee: str = "") -> CheckResult:
    """Fail unless both femur and tibia hold at least ``MIN_BONE_ML``; ``no_knee`` is the anatomy
    rule's reason for discarding what the network labelled (core/inference/knee_joint.py)."""
    femur, tibia = _bone(bones, "femur"), _bone(bones, "tibia")
    found = {name: (b.volume_ml if b else 0.0) for name, b in (("femur", femur), ("tibia", tibia))}
    details = {f"{k}_ml": round(v, 2) for k, v in found.items()}
    missing = [k for k, v in found.items() if v < MIN_BONE_ML]
    if len(missing) == 2 and no_knee:
        details["discarded_because"] = no_knee
        message = (
            f"No knee found: the network marked bone, but {no_knee}, so its labels were discarded; "
            "this scan probably does not show a knee."
        )
        return CheckResult("knee_found", "Knee found", Status.FAIL, message, details=details)
    if len(missing) == 2:
        message = "No knee found: neither femur nor tibia was segmented, so this scan probably does not show a knee."
        return CheckResult("knee_found", "Knee found", Status.FAIL, message, details=details)
    if missing:
        present = "tibia" if missing[0] == "femur" else "femur"
        message = (
            f"No knee found: only the {present} was segmented ({found[present]:.0f} mL, {missing[0]} "
            f"{found[missing[0]]:.1f} mL), but a knee CT shows both bones meeting at the joint."
        )
        return CheckResult("knee_found", "Knee found", Status.FAIL, message, details=details)
    message = f"Femur ({found['femur']:.0f} mL) and tibia ({found['tibia']:.0f} mL) were both found."
    return CheckResult("knee_found", "Knee found", Status.PASS, message, details=details)


def _length_mm(piece: ComponentMeasure, slice_mm: float) -> float:
    low, high = piece.superior_range_mm
    return max(high - low, 0.0) + slice_mm


def check_volume(bones: list[BoneMeasure], slice_mm: float) -> CheckResult:
    """Each bone's volume per length scanned, and its largest cross-section, against a knee's."""
    statuses, problems, details, slices = [], [], {}, []
    for bone in bones:
        for leg, piece in enumerate(major_pieces(bone)):
            length = _length_mm(piece, slice_mm)
            mean_area = piece.volume_ml * 10.0 / length
            key = f"{bone.name}_{leg + 1}" if leg else bone.name
            details[key] = {
                "volume_ml": round(piece.volume_ml, 1),
                "length_mm": round(length, 1),
                "mean_area_cm2": round(mean_area, 1),
                "max_area_cm2": round(piece.max_area_cm2, 1),
            }
            status = _range_status(mean_area, MEAN_AREA_CM2)
            status = worst([status, _above_status(piece.max_area_cm2, MAX_AREA_CM2)])
            statuses.append(status)
            if status is not Status.PASS:
                slices.extend(range(piece.slices[0], piece.slices[1] + 1))
                problems.append(
                    f"the {bone.name} measures {piece.volume_ml:.0f} mL over {length:.0f} mm "
                    f"({mean_area:.0f} cm\u00b2 per slice on average, up to {piece.max_area_cm2:.0f} cm\u00b2)"
                )
    status = worst(statuses)
    if status is Status.PASS:
        message = "Each bone's volume fits the length of leg scanned."
    else:
        message = f"Implausible size: {'; '.join(problems)}, which a knee's bone {'cannot' if status is Status.FAIL else 'rarely does'}."
    return CheckResult("volume", "Bone volume", status, message, tuple(sorted(set(slices))), details)


def _range_status(value: float, limits: dict[str, tuple[float, float]]) -> Status:
    low, high = limits["fail"]
    if not low <= value <= high:
        return Status.FAIL
    low, high = limits["warn"]
    return Status.PASS if low <= value <= high else Status.WARN


def _above_status(value: float, limits: dict[str, float]) -> Status:
    if value > limits["fail"]:
        return Status.FAIL
    return Status.WARN if value > limits["warn"] else Status.PASS


def check_density(bones: list[BoneMeasure]) -> CheckResult:
    """Bone is dense: a label holding little above 300 HU, or much air, is not bone."""
    statuses, problems, details = [], [], {}
    for bone in (b for b in bones if b.present):
        details[bone.name] = {
            "dense_fraction": round(bone.dense_fraction, 3),
            "air_fraction": round(bone.air_fraction, 4),
            "hu_p90": round(bone.hu_p90, 0),
        }
        dense = (
            Status.FAIL
            if bone.dense_fraction < DENSE_SHARE["fail"]
            else (Status.WARN if bone.dense_fraction < DENSE_SHARE["warn"] else Status.PASS)
        )
        air = _above_status(bone.air_fraction, AIR_SHARE)
        if dense is not Status.PASS:
            problems.append(f"only {bone.dense_fraction:.0%} of the {bone.name} is dense bone (above 300 HU)")
        if air is not Status.PASS:
            problems.append(f"{bone.air_fraction:.0%} of the {bone.name} is air")
        statuses += [dense, air]
    status = worst(statuses)
    if status is Status.PASS:
        message = "The labelled bones are dense, as bone is in CT."
    else:
        message = f"The labels cover soft tissue or air rather than bone: {'; '.join(problems)}."
    return CheckResult("density", "Bone density (HU)", status, message, details=details)


_AXIS_WORDS = ("slice(s)", "image row(s)", "image column(s)")


def check_continuity(bones: list[BoneMeasure]) -> CheckResult:
    """A bone does not vanish (or nearly vanish) between its ends along the body axis.

    For an axial CT that is slice by slice; for a sagittal or coronal acquisition the body axis
    runs along the image rows, and the flagged places are rows (no slice to mark).
    """
    fail_at: list[int] = []
    dip_at: list[int] = []
    problems, details = [], {}
    for bone in (b for b in bones if b.present):
        gaps, dips = _gaps_and_dips(bone.slice_area_cm2)
        where = _AXIS_WORDS[bone.body_axis]
        details[bone.name] = {
            "missing_slices": [int(s) for s in gaps],
            "thin_slices": [int(s) for s in dips],
            "axis": bone.body_axis,
        }
        if gaps.size:
            fail_at += gaps.tolist() if bone.body_axis == 0 else []
            problems.append(f"the {bone.name} vanishes on {where} {slice_ranges(gaps)} inside its extent")
        elif dips.size:
            dip_at += dips.tolist() if bone.body_axis == 0 else []
            problems.append(f"the {bone.name} nearly vanishes on {where} {slice_ranges(dips)}")
    failed = any("vanishes on" in p for p in problems)
    status = Status.FAIL if failed else (Status.WARN if problems else Status.PASS)
    if status is Status.PASS:
        message = "Every bone is present on every slice between its ends."
        return CheckResult("continuity", "Bone continuity", status, message, details=details)
    message = f"Part of a bone is missing: {'; '.join(problems)}; a real bone does not stop and start again."
    return CheckResult("continuity", "Bone continuity", status, message, tuple(sorted(set(fail_at + dip_at))), details)


def _gaps_and_dips(area: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Empty slices between the first and last labelled one, and slices far thinner than both sides."""
    present = np.flatnonzero(area > 0)
    if present.size < 2:
        return np.zeros(0, int), np.zeros(0, int)
    first, last = int(present[0]), int(present[-1])
    inner = area[first : last + 1]
    gaps = np.flatnonzero(inner == 0) + first
    reach = 3
    before, after = widest_around(inner, reach)
    dips = np.flatnonzero((inner > 0) & (inner < DIP_SHARE * np.minimum(before, after)))
    dips = dips[(dips >= reach) & (dips <= inner.size - 1 - reach)] + first  # a bone's ends taper
    return gaps, dips


def check_edges(bones: list[BoneMeasure]) -> CheckResult:
    """Bone touching the side of the image may be cut off: its volume and shape are then incomplete."""
    touching = [b for b in bones if b.edge_slices]
    details = {b.name: {"edge_slices": list(b.edge_slices)} for b in bones if b.present}
    if not touching:
        return CheckResult(
            "image_edge", "Inside the image", Status.PASS, "No bone touches the side of the image.", details=details
        )
    parts = [f"the {b.name} on slice(s) {slice_ranges(b.edge_slices)}" for b in touching]
    message = f"Bone touches the side of the image ({'; '.join(parts)}), so it may be cut off and its volume too small."
    slices = tuple(sorted({s for b in touching for s in b.edge_slices}))
    return CheckResult("image_edge", "Inside the image", Status.WARN, message, slices, details)


def check_inside_body(bones: list[BoneMeasure]) -> CheckResult:
    """A labelled piece made of air, or wrapped in air, lies outside the body (table, noise, mistake)."""
    outside: list[tuple[BoneMeasure, ComponentMeasure]] = []
    for bone in bones:
        for piece in bone.components:
            if piece.volume_ml < MIN_PIECE_ML and piece.voxels < 50:
                continue
            wrapped = (
                not np.isnan(piece.surrounding_air_fraction) and piece.surrounding_air_fraction > OUTSIDE_AIR_SHARE
            )
            if piece.air_fraction > OUTSIDE_AIR_SHARE or wrapped:
                outside.append((bone, piece))
    if not outside:
        return CheckResult("inside_body", "Inside the body", Status.PASS, "Every labelled piece lies inside the body.")
    parts = [
        f"{p.volume_ml:.1f} mL of {b.name} on slice(s) {slice_ranges(range(p.slices[0], p.slices[1] + 1))}"
        for b, p in outside
    ]
    message = f"Labelled bone lies in air outside the body ({'; '.join(parts)}): that is not bone."
    slices = tuple(sorted({s for _, p in outside for s in range(p.slices[0], p.slices[1] + 1)}))
    details = {
        "pieces": [
            {
                "bone": b.name,
                "volume_ml": round(p.volume_ml, 2),
                "slices": list(p.slices),
                "air_fraction": round(p.air_fraction, 3),
            }
            for b, p in outside
        ]
    }
    return CheckResult("inside_body", "Inside the body", Status.FAIL, message, slices, details)
