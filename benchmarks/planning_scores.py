"""How planning values are scored against the phantom truth: one row per (knee, value), and the
Markdown summaries of those rows. Shared by bench_planning.py's accuracy and stress runs."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

LANDMARKS = (
    "epicondyle_medial",
    "epicondyle_lateral",
    "medial_sulcus",
    "distal_medial",
    "distal_lateral",
    "posterior_medial",
    "posterior_lateral",
    "trochlear_groove",
    "notch_centre",
    "plateau_medial",
    "plateau_lateral",
    "plateau_lowest_medial",
    "plateau_lowest_lateral",
    "eminence_medial",
    "eminence_lateral",
    "tuberosity",
    "femoral_head_centre",
    "ankle_centre",
)
ANGLES = (
    "posterior_condylar_angle_deg",
    "posterior_condylar_angle_clinical_deg",
    "aldfa_deg",
    "whiteside_tea_deg",
    "mpta_deg",
    "slope_medial_deg",
    "slope_lateral_deg",
    "joint_line_orientation_deg",
    "distal_femoral_valgus_deg",
    "mldfa_deg",
    "hka_deg",
)
SIZES = ("femur_ap_mm", "femur_ml_mm", "tibia_ml_mm", "tibia_ap_mm", "joint_space_medial_mm", "joint_space_lateral_mm")
AXES = ("femoral_shaft_axis", "tibial_shaft_axis")


def _axis_angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.degrees(np.arccos(np.clip(abs(a @ b) / np.linalg.norm(a) / np.linalg.norm(b), -1, 1))))


def compare(plan, truth) -> list[dict]:
    """One row per (knee, value): estimate, truth, error."""
    rows = []
    for knee in plan.knees:
        leg = truth.leg(knee.side)
        if leg is None:
            continue
        for name in LANDMARKS:
            f, t = knee.finding(name), leg.point(name)
            if f is not None and f.point is not None and t is not None:
                rows.append(
                    {
                        "side": knee.side,
                        "value": name,
                        "kind": "landmark mm",
                        "error": float(np.linalg.norm(f.point - t)),
                        "confidence": f.confidence,
                    }
                )
        for name, bone in zip(AXES, ("femur", "tibia")):
            f, anat = knee.finding(name), getattr(leg, bone)
            if f is not None and f.direction is not None and anat is not None:
                rows.append(
                    {
                        "side": knee.side,
                        "value": name,
                        "kind": "axis deg",
                        "error": _axis_angle(f.direction, anat.shaft.direction),
                        "confidence": f.confidence,
                    }
                )
        same_tea = (knee.finding("medial_sulcus").ok) == (leg.point("medial_sulcus") is not None)
        for name, kind in [(n, "angle deg") for n in ANGLES] + [(n, "size mm") for n in SIZES]:
            f, t = knee.measures.get(name), leg.measures.get(name)
            if name == "posterior_condylar_angle_deg" and not same_tea:
                continue  # one took the surgical TEA, the other the clinical one
            if f is not None and f.value is not None and t is not None:
                rows.append(
                    {
                        "side": knee.side,
                        "value": name,
                        "kind": kind,
                        "error": abs(f.value - t),
                        "confidence": f.confidence,
                        "estimate": f.value,
                        "truth": t,
                    }
                )
    return rows


REFINED = ("femur_ap_mm", "femur_ml_mm", "tibia_ml_mm", "tibia_ap_mm")
"""Sizes whose ends planning refines in the CT (:mod:`kneeseg_app.core.planning.ct_edges`)."""


def size_rows(plan, truth) -> list[dict]:
    """Per (knee, size): the CT-refined and the label's size against the exact and the 0.5 mm-sampled truth."""
    rows = []
    for knee in plan.knees:
        leg = truth.leg(knee.side)
        for name in REFINED:
            f, anatomy = knee.measures.get(name), leg and (leg.femur if name.startswith("femur") else leg.tibia)
            label = re.search(r"label extent ([0-9.]+) mm", f.note or "") if f is not None else None
            if f is None or f.value is None or anatomy is None or label is None or name not in anatomy.extents:
                continue
            rows.append(
                {
                    "side": knee.side,
                    "value": name,
                    "ct": f.value,
                    "label": float(label.group(1)),
                    "truth": anatomy.sizes[name],
                    "truth_sampled": anatomy.extents[name].length_mm,
                    "from_ct": "both ends at the CT" in f.note,
                }
            )
    return rows


def size_summary(rows: list[dict]) -> str:
    """Median and worst error of the CT-refined and the label's sizes against both truths."""
    if not rows:
        return ""
    parts = []
    for est, ref, what in (
        ("ct", "truth", "CT-refined against the exact truth"),
        ("label", "truth", "label extent against the exact truth"),
        ("label", "truth_sampled", "label extent against the 0.5 mm-sampled truth (the comparison before)"),
        ("ct", "truth_sampled", "CT-refined against the 0.5 mm-sampled truth"),
    ):
        e = np.abs([r[est] - r[ref] for r in rows])
        parts.append(f"{what}: median {np.median(e):.2f} mm, worst {e.max():.2f} mm")
    bias = np.median([r["truth_sampled"] - r["truth"] for r in rows])
    both = sum(r["from_ct"] for r in rows)
    return (
        f"Femoral AP/ML and tibial ML/AP ({len(rows)} values; both ends from the CT in {both}): "
        + "; ".join(parts)
        + f". The 0.5 mm-sampled truth is {bias:+.2f} mm longer than the exact one (median)."
    )


def sulcus_rows(plan, truth) -> list[dict]:
    """Per knee: who found the medial sulcus, and the truth's sulcus and angle against the drawn ones."""
    rows = []
    for knee in plan.knees:
        leg = truth.leg(knee.side)
        if leg is None or leg.femur is None:
            continue
        found, drawn = leg.point("medial_sulcus"), leg.drawn
        note = knee.finding("medial_sulcus").note
        depth = re.search(r"([0-9.]+) mm", note)
        row = {
            "side": knee.side,
            "truth_found": found is not None,
            "plan_found": knee.finding("medial_sulcus").ok,
            "truth_depth_mm": round(leg.femur.sulcus_depth_mm, 2),
            "plan_depth_mm": float(depth.group(1)) if depth else None,
        }
        if found is not None and "sulcus" in drawn:
            row["truth_vs_drawn_mm"] = float(np.linalg.norm(found - drawn["sulcus"]))
        same_tea = (found is not None) == ("sulcus" in drawn)  # the drawn angle is against the drawn sulcus
        if (
            same_tea
            and "posterior_condylar_angle_deg" in drawn
            and leg.measures.get("posterior_condylar_angle_deg") is not None
        ):
            row["pca_truth_vs_drawn_deg"] = (
                leg.measures["posterior_condylar_angle_deg"] - drawn["posterior_condylar_angle_deg"]
            )
            row["pca_drawn_deg"] = drawn["posterior_condylar_angle_deg"]
        rows.append(row)
    return rows


def sulcus_summary(rows: list[dict]) -> str:
    both = sum(r["truth_found"] and r["plan_found"] for r in rows)
    only_t = sum(r["truth_found"] and not r["plan_found"] for r in rows)
    only_p = sum(r["plan_found"] and not r["truth_found"] for r in rows)
    far = [r["truth_vs_drawn_mm"] for r in rows if "truth_vs_drawn_mm" in r]
    pca = [abs(r["pca_truth_vs_drawn_deg"]) for r in rows if "pca_truth_vs_drawn_deg" in r]
    drawn = [r["pca_drawn_deg"] for r in rows if "pca_drawn_deg" in r]
    text = (
        f"Medial sulcus ({len(rows)} knees): found by both {both}, by the truth only {only_t}, "
        f"by the plan only {only_p}, by neither {len(rows) - both - only_t - only_p}."
    )
    if far:
        text += f" Truth's sulcus to the drawn one: median {np.median(far):.2f} mm, worst {max(far):.2f} mm."
    if pca:
        text += (
            f" Truth's posterior condylar angle (where it found the sulcus) against the drawn one"
            f" ({min(drawn):.1f} to {max(drawn):.1f} deg, {len(pca)} knees): "
            f"median {np.median(pca):.2f} deg, worst {max(pca):.2f} deg."
        )
    return text


def summary_table(rows: list[dict]) -> str:
    groups: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        groups.setdefault((r["kind"], r["value"]), []).append(r["error"])
    lines = ["| value | unit | n | median error | 90th pct | worst |", "|---|---|---|---|---|---|"]
    for (kind, name), errs in sorted(groups.items()):
        e = np.asarray(errs)
        lines.append(
            f"| {name} | {kind} | {len(e)} | {np.median(e):.2f} | {np.percentile(e, 90):.2f} | {e.max():.2f} |"
        )
    for kind in ("landmark mm", "axis deg", "angle deg", "size mm"):
        e = np.asarray([r["error"] for r in rows if r["kind"] == kind])
        if len(e):
            lines.append(
                f"| **all {kind.split()[0]}s** | {kind} | {len(e)} | **{np.median(e):.2f}** | {np.percentile(e, 90):.2f} | **{e.max():.2f}** |"
            )
    return "\n".join(lines)


def write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    keys = list(dict.fromkeys(k for r in rows for k in r))
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
