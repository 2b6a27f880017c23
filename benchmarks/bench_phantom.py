"""How long and how much memory a realistic 512 x 512 x 300 phantom knee CT takes to make.

Run:  PYTHONPATH=. python benchmarks/bench_phantom.py [--repeats 1] [--budget-s 30]

Moved out of the unit tests (issue 16: no timed unit tests): a shared machine makes a
wall-clock limit flaky. Prints the seconds, the peak of traced allocations and the size of
the output, and exits 1 when the phantom is slower than ``--budget-s`` or holds a
full-volume float temporary (peak above output + 250 MB), so it can still guard a release.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc

import numpy as np

from kneeseg_app.core.phantom import generate_phantom

SHAPE = (300, 512, 512)
SPACING = (0.8, 0.75, 0.75)
TEMPORARY_ALLOWANCE = 250 * 2**20
"""Peak memory allowed above the output itself: no full-volume float temporaries."""


def measure(seed: int) -> tuple[float, int, int, np.ndarray]:
    """Seconds, peak traced bytes, output bytes and the label array of one phantom."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        phantom = generate_phantom(seed, shape_zyx=SHAPE, spacing_zyx=SPACING, both_legs=True)
        seconds = time.perf_counter() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    output = phantom.ct.array.nbytes + phantom.labels.array.nbytes
    return seconds, peak, output, phantom.labels.array


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--budget-s", type=float, default=30.0)
    args = parser.parse_args()
    ok = True
    print("| seed | seconds | peak MB | output MB | femur voxels | tibia voxels |")
    print("|---:|---:|---:|---:|---:|---:|")
    for seed in range(args.repeats):
        seconds, peak, output, labels = measure(seed)
        femur, tibia = int((labels == 1).sum()), int((labels == 2).sum())
        print(f"| {seed} | {seconds:.1f} | {peak / 2**20:.0f} | {output / 2**20:.0f} | {femur} | {tibia} |")
        ok &= seconds < args.budget_s and peak < output + TEMPORARY_ALLOWANCE and femur > 100_000 and tibia > 100_000
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
