"""Anatomy rule vs. largest-component rule on phantoms with injected false positives.

Run: PYTHONPATH=. python benchmarks/bench_postprocess.py [--seeds 5001,5002,5003] [--out DIR]

The "prediction" is a phantom's exact reference labels with one failure mode of the
issue injected (the ones an nnU-Net 2D model showed on an outside generator's phantoms):

* table blob: a dense (700 HU) slab inside the scanner table, labelled femur, larger than
  the femur (CT and labels changed);
* edge strip: a band of "femur" along the image edge, in the air, over every bone slice;
* swapped bands: the 12 mm of condyles above the joint labelled tibia, the 12 mm of plateau
  below it labelled femur;
* two legs: a two-leg phantom whose left leg has the swapped bands and whose right leg's
  tibia is labelled femur in a band of slices (the legs disagree slice by slice), plus an
  edge strip.

Each case is cleaned by nnU-Net's largest-component rule (min_fraction 0), the bundled
model's (0.25) and the anatomy rule (:mod:`kneeseg_app.core.inference.bone_layout`);
Dice per bone against the reference and the rule's time are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from kneeseg_app.core.inference.bone_layout import apply_bone_layout  # noqa: E402
from kneeseg_app.core.inference.postprocess import apply_postprocessing  # noqa: E402
from kneeseg_app.core.phantom import Phantom, generate_phantom  # noqa: E402
from kneeseg_app.core.volume import Volume  # noqa: E402

SHAPE = (120, 256, 256)
BAND_MM = 12.0


def dice(pred: np.ndarray, ref: np.ndarray, label: int) -> float:
    a, b = pred == label, ref == label
    total = int(a.sum()) + int(b.sum())
    return 2.0 * int((a & b).sum()) / total if total else 1.0


def joint_slice(labels: np.ndarray, x_range: slice = slice(None)) -> int:
    """First slice (from z = 0) where femur outnumbers tibia in the given columns."""
    femur = (labels[:, :, x_range] == 1).sum(axis=(1, 2))
    tibia = (labels[:, :, x_range] == 2).sum(axis=(1, 2))
    return int(np.flatnonzero(femur > tibia)[0])


def table_blob(phantom: Phantom) -> tuple[Volume, np.ndarray]:
    ct, labels = phantom.ct.array.copy(), phantom.labels.array.copy()
    y_top = int(round(phantom.ct.lps_to_index([0.0, phantom.table_y_mm, 0.0])[1]))
    z = np.flatnonzero((labels > 0).any(axis=(1, 2)))
    x = np.flatnonzero((labels > 0).any(axis=(0, 1)))
    box = (
        slice(z[0], z[-1] + 1),
        slice(y_top + 3, min(y_top + 25, ct.shape[1] - 2)),
        slice(max(x[0] - 40, 0), x[-1] + 40),
    )
    ct[box] = 700
    labels[box] = 1
    return phantom.ct.with_array(ct), labels


def edge_strip(phantom: Phantom) -> tuple[Volume, np.ndarray]:
    labels = phantom.labels.array.copy()
    z = np.flatnonzero((labels > 0).any(axis=(1, 2)))
    labels[z[0] : z[-1] + 1, :, :8] = 1
    return phantom.ct, labels


def swapped_bands(phantom: Phantom, x_range: slice = slice(None)) -> tuple[Volume, np.ndarray]:
    labels = phantom.labels.array.copy()
    _swap_bands(labels, x_range, phantom.ct.spacing_zyx[0])
    return phantom.ct, labels


def _swap_bands(labels: np.ndarray, x_range: slice, slice_mm: float) -> None:
    joint = joint_slice(labels, x_range)
    n = max(1, int(round(BAND_MM / slice_mm)))
    part = labels[:, :, x_range]
    above, below = part[joint : joint + n], part[max(joint - n, 0) : joint]
    above[above == 1] = 2
    below[below == 2] = 1


def two_legs(phantom: Phantom) -> tuple[Volume, np.ndarray]:
    labels = phantom.labels.array.copy()
    middle = labels.shape[2] // 2
    _swap_bands(labels, slice(middle, None), phantom.ct.spacing_zyx[0])
    joint = joint_slice(labels, slice(0, middle))
    right = labels[max(joint - 15, 0) : joint, :, :middle]
    right[right == 2] = 1
    z = np.flatnonzero((labels > 0).any(axis=(1, 2)))
    labels[z[0] : z[-1] + 1, :8, :] = 1
    return phantom.ct, labels


RULES: dict[str, Callable[[np.ndarray, Volume], None]] = {
    "largest (nnU-Net, 0)": lambda labels, ct: apply_postprocessing(labels, [1, 2], min_fraction=0.0),
    "largest >= 0.25 (bundled)": lambda labels, ct: apply_postprocessing(labels, [1, 2], min_fraction=0.25),
    "anatomy": lambda labels, ct: apply_bone_layout(labels, ct, 1, 2),
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="5001,5002,5003")
    parser.add_argument("--two-leg-seeds", default="5004,5005")
    args = parser.parse_args()
    cases: list[tuple[str, Volume, np.ndarray, np.ndarray]] = []
    for seed in (int(s) for s in args.seeds.split(",")):
        phantom = generate_phantom(seed, shape_zyx=SHAPE, both_legs=False)
        ref = phantom.labels.array
        for name, inject in (("table blob", table_blob), ("edge strip", edge_strip), ("swapped bands", swapped_bands)):
            ct, pred = inject(phantom)
            cases.append((f"{name} ({seed})", ct, pred, ref))
    for seed in (int(s) for s in args.two_leg_seeds.split(",")):
        phantom = generate_phantom(seed, shape_zyx=SHAPE, both_legs=True)
        ct, pred = two_legs(phantom)
        cases.append((f"two legs ({seed})", ct, pred, phantom.labels.array))
    print("| case | injected (Dice femur / tibia) | " + " | ".join(RULES) + " |")
    print("|---|---|" + "---|" * len(RULES))
    seconds: dict[str, list[float]] = {r: [] for r in RULES}
    for name, ct, pred, ref in cases:
        cells = [f"{dice(pred, ref, 1):.3f} / {dice(pred, ref, 2):.3f}"]
        for rule, apply in RULES.items():
            out = pred.copy()
            started = time.perf_counter()
            apply(out, ct)
            seconds[rule].append(time.perf_counter() - started)
            cells.append(f"{dice(out, ref, 1):.3f} / {dice(out, ref, 2):.3f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()
    print("median seconds per case: " + ", ".join(f"{r} {np.median(s):.2f}" for r, s in seconds.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
