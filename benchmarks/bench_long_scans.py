"""Hip-to-ankle scans the stress suite has only one of: the bundled model and the anatomy rule with and
without the far-end trims (inference/femoral_head.py, inference/talus.py), and what the plan makes of it.

Eight wide phantoms of 1200 mm coverage (seeds 97000-97007, never used to train or tune), one pin set
each: one leg, legs apart or touching; HFS, FFS, HFP, FFP; 0-30 deg flexion; 2.5-5 mm slices; OA,
osteoporotic bone, obese, rotated. The network runs once per case; the anatomy rule is applied to its
labels twice (trims off, trims on), so the two differ by the trims alone. Per case: Dice and HD95 per
bone, voxels trimmed, and the distance of the plan's femoral head and ankle centres (and the HKA
difference) from the plan of the true labels.

Run:  PYTHONPATH=. .venv/bin/python benchmarks/bench_long_scans.py [--out DIR] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from ablation import anatomy_rule  # benchmarks/ablation.py (the script's own folder)

from kneeseg_app.core.errors import KneeSegError
from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
from kneeseg_app.core.metrics.scores import compute_metrics
from kneeseg_app.core.model.discovery import find_model
from kneeseg_app.core.phantom.variation import WideChoices
from kneeseg_app.core.planning import plan_labels
from trainer.stress import render_case
from trainer.stress_suite import StressCase

PINS = (
    {"legs": "one", "position": "HFS", "flexion_deg": 0.0, "slice_mm": 3.0},
    {"legs": "apart", "position": "FFS", "flexion_deg": 10.0, "slice_mm": 3.0},
    {"legs": "touching", "position": "HFS", "flexion_deg": 20.0, "slice_mm": 2.5},
    {"legs": "one", "position": "HFP", "flexion_deg": 5.0, "slice_mm": 4.0},
    {"legs": "one", "position": "FFP", "flexion_deg": 30.0, "slice_mm": 3.0},
    {"legs": "apart", "position": "HFS", "flexion_deg": 5.0, "slice_mm": 5.0, "oa_grade": 3},
    {"legs": "one", "position": "HFS", "flexion_deg": 15.0, "slice_mm": 2.5, "bone_quality": -0.8},
    {"legs": "one", "position": "FFS", "flexion_deg": 0.0, "slice_mm": 3.0, "habitus": 0.9, "rotation_deg": 20.0},
)
FIRST_SEED = 97000
LANDMARKS = ("femoral_head_centre", "ankle_centre")
FAR_END_TRIMS = ("trim_acetabulum", "trim_talus")


def _plan_points(labels, ct) -> list[dict]:
    """Per knee: the far-end landmarks (LPS, or None) and the HKA angle (or None)."""
    knees = []
    for knee in plan_labels(labels, ct).knees:
        entry = {"side": knee.side}
        for name in LANDMARKS:
            found = knee.finding(name)
            ok = found is not None and found.point is not None and np.all(np.isfinite(found.point))
            entry[name] = found.point if ok else None
        hka = knee.finding("hka_deg")
        entry["hka"] = None if hka is None or hka.value is None else float(hka.value)
        knees.append(entry)
    return knees


def _plan_errors(labels, ct, truth: list[dict]) -> list[dict] | str:
    """Distances (mm) of the plan's far-end landmarks from the true labels' plan, per knee (matched by
    side: a knee the true labels' plan does not have gets None)."""
    try:
        planned = _plan_points(labels, ct)
    except KneeSegError as exc:
        return str(exc)
    errors = []
    for mine in planned:
        row = {"side": mine["side"]}
        true = next((t for t in truth if t["side"] == mine["side"]), {name: None for name in (*LANDMARKS, "hka")})
        for name in LANDMARKS:
            both = mine[name] is not None and true[name] is not None
            row[name] = round(float(np.linalg.norm(mine[name] - true[name])), 1) if both else None
        both = mine["hka"] is not None and true["hka"] is not None
        row["hka_deg"] = round(mine["hka"] - true["hka"], 2) if both else None
        errors.append(row)
    return errors


def run_case(segmenter: Segmenter, index: int, pins: dict) -> dict:
    seed = FIRST_SEED + index
    case = StressCase("long", "1200 mm", seed, WideChoices(coverage_mm=(640.0, 560.0), pixels=384, **pins))
    started = time.perf_counter()
    phantom = render_case(case)
    ct = phantom.ct
    raw = segmenter.run(ct).labels.array
    truth_plan = _plan_points(phantom.labels, ct)
    row: dict = {"seed": seed, **pins, "shape_zyx": list(ct.shape)}
    for trims in (False, True):
        labels, result = anatomy_rule(raw, ct, () if trims else FAR_END_TRIMS)
        scores = compute_metrics(labels, phantom.labels.array, ct.spacing_zyx)
        key = "trims" if trims else "no_trims"
        row[key] = {
            "dice_hd95": {bone: [round(m.dice, 4), round(m.hd95_mm, 2)] for bone, m in scores.items()},
            "trimmed": {str(k): v for k, v in result.ends_trimmed.items()},
            "no_knee": result.no_knee,
            "plan_error": _plan_errors(ct.with_array(labels), ct, truth_plan) if not result.no_knee else "no knee",
        }
    row["seconds"] = round(time.perf_counter() - started, 1)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/long_scans"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    segmenter = Segmenter(find_model(None), SegmentOptions(threads=args.threads, postprocess=False))
    rows = []
    for index, pins in enumerate(PINS):
        rows.append(run_case(segmenter, index, pins))
        print(json.dumps(rows[-1], default=str), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "long_scans.json").write_text(json.dumps(rows, indent=1, default=str) + "\n", encoding="utf-8")
    print(f"wrote {args.out / 'long_scans.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
