"""How long the result quality checks take on a 512 x 512 x 300 knee CT, and what recording the
network's top-class probability costs the engine's argmax.

Run:  PYTHONPATH=. python benchmarks/bench_checks.py [--repeats 5] [--slices 300]

* checks: ``check_result`` on a phantom knee CT (both legs where the seed draws them) with its
  exact labels and a top-class probability map (certain everywhere, uncertain along the bone
  surfaces), as ``kneeseg segment`` runs it after every segmentation (issue 13: <= 1 s);
* argmax: the engine's running argmax over 3 channels of 512 x 512 slices, without (labels
  only) and with the top-class probability (``TopClass``), per 100 slices.
Prints the median wall and CPU time of several runs; writes nothing.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from scipy import ndimage

from kneeseg_app.core.checks import check_result
from kneeseg_app.core.inference.predict import TopClass
from kneeseg_app.core.phantom import generate_phantom


def timed(run, repeats: int) -> tuple[float, float]:
    """Median wall time and median CPU time of this process (the CPU time is what an idle machine
    would take: on a shared, overloaded machine the wall time also counts waiting for a core)."""
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        run()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def probability_map(labels: np.ndarray) -> np.ndarray:
    """255 (certain) everywhere, 150 (about 0.6) on a one-voxel shell around the bones."""
    bone = labels > 0
    shell = ndimage.binary_dilation(bone, iterations=1) & ~ndimage.binary_erosion(bone, iterations=1)
    top = np.full(labels.shape, 255, np.uint8)
    top[shell] = 150
    return top


def bench_checks(seeds: list[int], slices: int, repeats: int) -> None:
    for seed in seeds:
        phantom = generate_phantom(seed, shape_zyx=(slices, 512, 512))
        top = probability_map(phantom.labels.array)
        report = check_result(phantom.ct, phantom.labels, {1: "femur", 2: "tibia"}, top)
        median, cpu = timed(lambda p=phantom, t=top: check_result(p.ct, p.labels, {1: "femur", 2: "tibia"}, t), repeats)
        legs = "both legs" if phantom.params.both_legs else "one leg"
        print(
            f"checks   seed {seed:3d} {slices}x512x512 ({legs}): median {median:.3f} s wall, {cpu:.3f} s CPU, "
            f"verdict {report.status.value}"
        )


def bench_argmax(repeats: int, n_slices: int = 100) -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (3, 512, 512)).astype(np.float32)

    def run(with_top: bool) -> None:
        for _ in range(n_slices):
            labels = np.zeros((512, 512), np.uint8)
            running = TopClass(labels, np.empty((512, 512), np.uint8) if with_top else None)
            for c in range(3):
                running.add(logits[c].copy(), c)
            running.finish()

    _, plain = timed(lambda: run(False), repeats)
    _, with_top = timed(lambda: run(True), repeats)
    print(
        f"argmax   {n_slices} slices of 512x512, 3 channels: labels only {plain:.3f} s CPU, "
        f"with top-class probability {with_top:.3f} s (+{with_top - plain:.3f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--seeds", default="2,3,7", help="phantom seeds (2 and 3 draw both legs)")
    args = parser.parse_args()
    bench_checks([int(s) for s in args.seeds.split(",")], args.slices, args.repeats)
    bench_argmax(args.repeats)


if __name__ == "__main__":
    main()
