"""Deep flexion on thick slices, beyond the stress suite: the bundled model and the anatomy rule with and
without its two refinements after the knee-joint test (inference/flexed_condyles.py, inference/joint_level.py).

Sixteen wide phantoms (seeds 98000-98015, never used to train or tune), 384 px, 70 mm above and below the
joint, each drawing from its own seed: flexion 35, 40 or 45 deg; slices of 2, 3, 4 or 5 mm; one leg, legs
apart or touching; OA grade 0-4; every other axis as the wide generator draws it (fields of view that cut
the other knee, metal, kernels, ...). The network runs once per case; the rule is applied to its labels
twice, so the two columns differ by the refinements alone. Dice and HD95 per bone, per knee when a case
shows two (metrics_per_side, as the independent generator's table: the worse knee is what counts).

Run:  PYTHONPATH=. .venv/bin/python benchmarks/bench_deep_flexion.py [--out DIR] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from ablation import anatomy_rule  # benchmarks/ablation.py (the script's own folder)

from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
from kneeseg_app.core.metrics.sides import metrics_per_side
from kneeseg_app.core.model.discovery import find_model
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.phantom.variation import WideChoices

FIRST_SEED = 98000
CASES = 16
BONES = {1: "femur", 2: "tibia"}
REFINEMENTS = ("return_condyles", "part_at_level")


def case_pins(index: int) -> dict:
    """The pins of case ``index`` (drawn from its own stream, so a case never changes with the others)."""
    rng = np.random.default_rng(index)
    return {
        "flexion_deg": float(rng.choice([35.0, 40.0, 45.0])),
        "slice_mm": float(rng.choice([2.0, 3.0, 4.0, 5.0])),
        "legs": str(rng.choice(["one", "touching", "apart"])),
        "oa_grade": int(rng.integers(0, 5)),
        "pixels": 384,
        "coverage_mm": (70.0, 70.0),
    }


def _scores(labels: np.ndarray, truth) -> dict:
    metrics = metrics_per_side(truth.with_array(labels), truth, BONES)
    return {name: [round(m.dice, 4), round(m.hd95_mm, 2)] for name, m in metrics.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/deep_flexion"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    segmenter = Segmenter(find_model(None), SegmentOptions(postprocess=False, threads=args.threads))
    rows = []
    for index in range(CASES):
        pins = case_pins(index)
        started = time.perf_counter()
        phantom = generate_phantom(FIRST_SEED + index, variation="wide", choices=WideChoices(**pins))
        raw = segmenter.run(phantom.ct).labels.array
        row = {"seed": FIRST_SEED + index, **{k: v for k, v in pins.items() if k != "coverage_mm"}}
        row["shape_zyx"] = list(phantom.ct.shape)
        row["without"] = _scores(anatomy_rule(raw, phantom.ct, REFINEMENTS)[0], phantom.labels)
        row["with"] = _scores(anatomy_rule(raw, phantom.ct)[0], phantom.labels)
        row["seconds"] = round(time.perf_counter() - started, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "deep_flexion.json").write_text(json.dumps({"cases": rows}, indent=1))
    worst = {key: min(min(v[0] for v in r[key].values()) for r in rows) for key in ("without", "with")}
    print(f"worst Dice over every bone and knee: without {worst['without']:.3f}, with {worst['with']:.3f}")
    print(f"wrote {args.out / 'deep_flexion.json'}")


if __name__ == "__main__":
    main()
