"""How long compute_metrics takes on a full-size knee label pair (512 x 512 x 400 voxels).

Run:  PYTHONPATH=. python benchmarks/bench_metrics.py [--repeats 5]

Scenarios (reference vs a prediction with shifted, resized bones):
  knee      femur (condyles + shaft) and tibia (plateau + shaft) of anatomical size
  large     both bones as big ellipsoids filling most of the field of view
  outliers  'knee' plus false-positive specks scattered over the whole volume, so the
            bounding box of each bone's union is nearly the whole image (worst case)
Prints the median (and min) wall time of several runs for each.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from kneeseg_app.core.metrics import compute_metrics

SHAPE = (400, 512, 512)
SPACING = (0.6, 0.7, 0.7)  # mm, z y x


def add_ellipsoid(labels: np.ndarray, centre_mm, radii_mm, value: int) -> None:
    """Paint an axis-aligned ellipsoid (mm) into ``labels``, touching only its bounding box."""
    lo = [max(0, int((c - r) / s) - 1) for c, r, s in zip(centre_mm, radii_mm, SPACING)]
    hi = [min(n, int((c + r) / s) + 2) for c, r, s, n in zip(centre_mm, radii_mm, SPACING, labels.shape)]
    z, y, x = np.ogrid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    inside = sum(((g * s - c) / r) ** 2 for g, s, c, r in zip((z, y, x), SPACING, centre_mm, radii_mm)) <= 1.0
    labels[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]][inside] = value


def knee_labels(shift_mm=(0.0, 0.0, 0.0), scale: float = 1.0, large: bool = False) -> np.ndarray:
    """A knee-like label map: 1 = femur above, 2 = tibia below the joint line."""
    labels = np.zeros(SHAPE, np.uint8)
    cy, cx = 179.0 + shift_mm[1], 179.0 + shift_mm[2]
    dz = shift_mm[0]
    if large:
        add_ellipsoid(labels, (175 + dz, cy, cx), (62 * scale, 77 * scale, 82 * scale), 1)
        add_ellipsoid(labels, (60 + dz, cy, cx), (57 * scale, 70 * scale, 80 * scale), 2)
        return labels
    add_ellipsoid(labels, (180 + dz, cy, cx), (70 * scale, 22 * scale, 22 * scale), 1)  # femoral shaft
    for side in (-1, 1):  # condyles
        add_ellipsoid(labels, (120 + dz, cy + 5, cx + side * 22), (33 * scale, 38 * scale, 24 * scale), 1)
    add_ellipsoid(labels, (62 + dz, cy, cx), (18 * scale, 38 * scale, 48 * scale), 2)  # tibial plateau
    add_ellipsoid(labels, (20 + dz, cy + 5, cx), (45 * scale, 18 * scale, 18 * scale), 2)  # tibial shaft
    return labels


def add_scattered_specks(labels: np.ndarray, seed: int = 0, count: int = 40) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(count):
        z, y, x = (int(rng.integers(2, n - 4)) for n in labels.shape)
        labels[z : z + 3, y : y + 3, x : x + 3] = rng.integers(1, 3)


def scenario(name: str) -> tuple[np.ndarray, np.ndarray]:
    large = name == "large"
    reference = knee_labels(large=large)
    prediction = knee_labels(shift_mm=(1.2, -1.4, 0.7), scale=0.97, large=large)
    if name == "outliers":
        add_scattered_specks(prediction)
    return prediction, reference


def time_runs(prediction: np.ndarray, reference: np.ndarray, repeats: int) -> list[float]:
    compute_metrics(prediction, reference, SPACING)  # warm-up (page faults, imports)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        compute_metrics(prediction, reference, SPACING)
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scenarios", nargs="+", default=["knee", "large", "outliers"])
    args = parser.parse_args()
    print(f"compute_metrics on {SHAPE[2]} x {SHAPE[1]} x {SHAPE[0]} uint8 label maps, spacing {SPACING} mm (z, y, x)")
    for name in args.scenarios:
        prediction, reference = scenario(name)
        result = compute_metrics(prediction, reference, SPACING)
        times = time_runs(prediction, reference, args.repeats)
        bones = ", ".join(
            f"{bone}: {m.volume_ref_ml:.0f} mL, Dice {m.dice:.3f}, HD {m.hausdorff_mm:.1f} mm, ASSD {m.assd_mm:.2f} mm"
            for bone, m in result.items()
        )
        print(
            f"{name:9s} median {statistics.median(times):.3f} s, min {min(times):.3f} s "
            f"over {len(times)} runs  ({bones})"
        )


if __name__ == "__main__":
    main()
