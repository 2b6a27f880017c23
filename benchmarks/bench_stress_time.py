"""Worst vs median segmentation time over the stress suite (bone windows that cannot run away).

Run the suite once (``kneeseg-train stress --out DIR``), then
  PYTHONPATH=. python benchmarks/bench_stress_time.py DIR/stress.json

Every case of the suite (one row per variation axis of the wide phantom generator, plus the
no-knee CT) was segmented by the app's engine with the package's defaults in that one run;
this prints the median, the 90th percentile and the worst time, worst / median, the slowest
cases with their grid, and the time per million voxels (the engine's cost should follow the
bones, not the false positives or the field of view).
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__)
        return 2
    data = json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    cases = data["cases"]
    seconds = sorted(c["seconds"] for c in cases)
    median = statistics.median(seconds)
    p90 = seconds[min(len(seconds) - 1, math.ceil(0.9 * len(seconds)) - 1)]
    print(f"{len(cases)} cases: median {median:.1f} s, 90th percentile {p90:.1f} s, worst {seconds[-1]:.1f} s")
    print(f"worst / median = {seconds[-1] / median:.1f}")
    print()
    print("| case | row | grid (z x y x x) | s | s per Mvoxel |")
    print("|---|---|---|---|---|")
    for c in sorted(cases, key=lambda c: -c["seconds"])[:8]:
        z, y, x = c["shape_zyx"]
        mvox = z * y * x / 1e6
        print(f"| {c['case']} | {c['row']} | {z} x {y} x {x} | {c['seconds']:.1f} | {c['seconds'] / mvox:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
