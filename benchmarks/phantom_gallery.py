"""Save PNG views of synthetic knee phantoms to look at (and time their generation).

    PYTHONPATH=. python benchmarks/phantom_gallery.py --out out/gallery --seeds 1 2 3
    PYTHONPATH=. python benchmarks/phantom_gallery.py --timing   # 512x512x300, one core

Each PNG shows, for one seed: axial slices (above the joint through the patella, at the
joint line, through the fibular head), a coronal and two sagittal slices through the
knee, in a bone window and a soft-tissue window, with femur (red) and tibia (blue)
label outlines. Needs matplotlib (a development tool, not an app dependency).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import numpy as np

from kneeseg_app.core.phantom import Phantom, generate_phantom


def _views(phantom: Phantom) -> list[tuple[str, np.ndarray, np.ndarray, float]]:
    """(title, image, labels, aspect) for the standard views through the first knee."""
    ct, lab = phantom.ct.array, phantom.labels.array
    leg = phantom.params.legs[0]
    kz, ky, kx = np.round(phantom.ct.lps_to_index(leg.knee_lps)).astype(int)
    nz, ny, nx = ct.shape
    sz, sy, sx = phantom.ct.spacing_zyx
    kz, ky, kx = (int(np.clip(v, 0, n - 1)) for v, n in ((kz, nz), (ky, ny), (kx, nx)))
    half_y, half_x = int(115 / sy), int(115 / sx)
    ys = slice(max(ky - half_y, 0), min(ky + half_y, ny))
    xs = slice(max(kx - half_x, 0), min(kx + half_x, nx))
    views = []
    for name, dz_mm in (
        ("axial +35 mm (patella)", 35.0),
        ("axial +8 mm (condyles)", 8.0),
        ("axial -22 mm (fibular head)", -22.0),
    ):
        z = int(np.clip(kz + round(dz_mm / sz), 0, nz - 1))
        views.append((name, ct[z, ys, xs], lab[z, ys, xs], sy / sx))
    yc = ky + int(6 / sy)
    views.append(("coronal", ct[::-1, yc, xs], lab[::-1, yc, xs], sz / sx))
    lateral = 1 if leg.side == "left" else -1
    offset = int(round(23.0 / sx))
    for name, x in (
        ("sagittal medial condyle", kx - lateral * offset),
        ("sagittal lateral condyle", kx + lateral * offset),
    ):
        x = int(np.clip(x, 0, nx - 1))
        views.append((name, ct[::-1, ys, x], lab[::-1, ys, x], sz / sy))
    return views


def save_gallery(phantom: Phantom, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    views = _views(phantom)
    fig, axes = plt.subplots(2, len(views), figsize=(3.3 * len(views), 7.0))
    for col, (title, image, labels, aspect) in enumerate(views):
        for row, (level, window) in enumerate(((400, 1800), (40, 500))):
            ax = axes[row, col]
            ax.imshow(
                image,
                cmap="gray",
                vmin=level - window / 2,
                vmax=level + window / 2,
                aspect=aspect,
                interpolation="nearest",
            )
            if row == 0:
                for value, colour in ((1, "red"), (2, "deepskyblue")):
                    if (labels == value).any():
                        ax.contour(labels == value, levels=[0.5], colors=colour, linewidths=0.6)
            ax.set_title(title if row == 0 else f"{title} (soft)", fontsize=8)
            ax.axis("off")
    fig.suptitle(f"seed {phantom.params.seed}: {phantom.params.describe()}", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def timing(seed: int = 0) -> None:
    """Time a realistic 512x512x300 phantom on this process (run with OMP_NUM_THREADS=1)."""
    for both_legs in (False, True):
        start, cpu = time.perf_counter(), time.process_time()
        phantom = generate_phantom(seed, shape_zyx=(300, 512, 512), spacing_zyx=(0.8, 0.75, 0.75), both_legs=both_legs)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        legs = "both legs" if both_legs else "one leg"
        print(
            f"512x512x300 ({legs}): {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU, peak RSS {peak_mb:.0f} MB, "
            f"output {(phantom.ct.array.nbytes + phantom.labels.array.nbytes) / 2**20:.0f} MB"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/gallery"))
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3, 4])
    parser.add_argument("--shape", type=int, nargs=3, default=None, help="z y x (default: drawn)")
    parser.add_argument("--oa", choices=["yes", "no", "drawn"], default="drawn")
    parser.add_argument("--timing", action="store_true")
    args = parser.parse_args()
    if args.timing:
        timing()
        return
    oa = {"yes": True, "no": False, "drawn": None}[args.oa]
    for seed in args.seeds:
        start = time.perf_counter()
        phantom = generate_phantom(seed, shape_zyx=tuple(args.shape) if args.shape else None, osteoarthritis=oa)
        print(f"seed {seed}: {phantom.ct.shape} in {time.perf_counter() - start:.1f} s; {phantom.params.describe()}")
        save_gallery(phantom, args.out / f"phantom-{seed}.png")


if __name__ == "__main__":
    main()
