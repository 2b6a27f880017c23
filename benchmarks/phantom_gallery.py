"""Save PNG views of synthetic knee phantoms to look at (and time their generation).

    PYTHONPATH=. python benchmarks/phantom_gallery.py --out out/gallery --seeds 1 2 3
    PYTHONPATH=. python benchmarks/phantom_gallery.py --timing   # 512x512x300, one core
    PYTHONPATH=. python benchmarks/phantom_gallery.py --axes --out docs/images/phantom-gallery

``--axes`` writes one PNG per variation axis of the wide generator (issue 12): a row of
phantoms across the axis' range, everything else pinned, plus the no-knee negatives and
SynthSeg-style randomisations of one case.

Each PNG shows, for one seed: axial slices (above the joint through the patella, at the
joint line, through the fibular head), a coronal and two sagittal slices through the
knee, in a bone window and a soft-tissue window, with femur (red) and tibia (blue)
label outlines. Needs matplotlib (a development tool, not an app dependency).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from kneeseg_app.core.phantom import Phantom, generate_phantom
from kneeseg_app.core.phantom.axes import AXES, NEUTRAL, axis_choices

GALLERY_GRID = dict(shape_zyx=(64, 256, 256), spacing_zyx=(3.0, 1.2, 1.2))
WIDE_GRID = dict(shape_zyx=(40, 320, 320), spacing_zyx=(4.0, 1.5, 1.5))
"""Rows with both legs use a 480 mm field of view."""
VIEWS = {
    "kernel": "zoom",
    "noise": "zoom",
    "calibration": "zoom",
    "bone-quality": "zoom",
    "fov-matrix": "stored",
    "padding": "stored",
    "legs": "stored",
    "position": "stored",
    "table": "stored",
    "slice-spacing": "coronal",
    "coverage": "coronal",
    "metal": "coronal",
    "osteoarthritis": "coronal",
    "flexion": "sagittal",
    "vessels": "axial-low",
    "fabella": "sagittal-lateral",
    "anatomy": "coronal",
    "bone-streaks": "stored",
}
SPEED_PINS = {
    "fov-matrix": dict(coverage_mm=(20.0, 20.0), slice_mm=5.0),
    "slice-spacing": dict(fov_mm=200.0, pixels=256),
    "coverage": dict(fov_mm=400.0, pixels=256, slice_mm=5.0),
}
"""Pins that keep the rows whose grid is drawn quick to render."""


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
    """Time realistic 512x512x300 phantoms on this process (run with OMP_NUM_THREADS=1).

    Classic and wide (with a plate and its streaks in the wide two-leg case); CPU seconds
    are the fairer number on a shared machine. The peak is traced numpy memory.
    """
    import tracemalloc

    from kneeseg_app.core.phantom.variation import WideChoices

    grid = dict(shape_zyx=(300, 512, 512), spacing_zyx=(0.8, 0.75, 0.75))
    cases = [
        ("classic", False, None),
        ("classic", True, None),
        ("wide", False, WideChoices(legs="one", implant="none")),
        ("wide", True, WideChoices(legs="touching", implant="plate", contrast=True)),
    ]
    for variation, both_legs, choices in cases:
        tracemalloc.start()
        start, cpu = time.perf_counter(), time.process_time()
        phantom = generate_phantom(seed, both_legs=both_legs, variation=variation, choices=choices, **grid)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        legs = "both legs" if both_legs else "one leg"
        print(
            f"512x512x300 {variation} ({legs}): {seconds:.2f} s wall, {cpu_seconds:.2f} s CPU, traced peak {peak / 2**20:.0f} MB, "
            f"output {(phantom.ct.array.nbytes + phantom.labels.array.nbytes) / 2**20:.0f} MB"
        )


def _axis_view(phantom: Phantom, view: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(image, labels, aspect) of one gallery panel; 'stored' shows the array as the scanner stores it."""
    ct, lab = phantom.ct.array, phantom.labels.array
    leg = phantom.params.legs[0]
    index = np.round(phantom.ct.lps_to_index(leg.knee_lps)).astype(int)
    kz, ky, kx = (int(np.clip(v, 0, n - 1)) for v, n in zip(index, ct.shape))
    sz, sy, sx = phantom.ct.spacing_zyx
    up = int(np.sign(phantom.ct.direction[2, 2]))

    def slice_at(mm: float) -> int:
        """Array slice ``mm`` above the joint line in the patient (whatever the slice order)."""
        z = phantom.ct.lps_to_index(np.asarray(leg.knee_lps) + np.array([0.0, 0.0, mm]))[0]
        return int(np.clip(np.floor(z + 0.5), 0, ct.shape[0] - 1))

    condyles = slice_at(10.0)
    if view == "stored":
        return ct[condyles], lab[condyles], sy / sx
    half_y, half_x = int(110 / sy), int(110 / sx)
    ys = slice(max(ky - half_y, 0), ky + half_y)
    xs = slice(max(kx - half_x, 0), kx + half_x)
    if view == "axial":
        return ct[condyles, ys, xs], lab[condyles, ys, xs], sy / sx
    if view == "axial-low":
        z = slice_at(-40.0)
        return ct[z, ys, xs], lab[z, ys, xs], sy / sx
    if view == "zoom":
        zy, zx = (
            slice(max(ky - int(45 / sy), 0), ky + int(45 / sy)),
            slice(max(kx - int(45 / sx), 0), kx + int(45 / sx)),
        )
        return ct[condyles, zy, zx], lab[condyles, zy, zx], sy / sx
    if view == "coronal":
        return ct[::-up, ky, :], lab[::-up, ky, :], sz / sx
    lateral = 1 if leg.side == "left" else -1
    x = kx + (lateral * int(round(24 / sx)) if view == "sagittal-lateral" else 0)
    x = int(np.clip(x, 0, ct.shape[2] - 1))
    return ct[::-up, :, x], lab[::-up, :, x], sz / sy


def _panel_row(path: Path, title: str, panels: list[tuple[str, np.ndarray, np.ndarray, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(2.3 * len(panels), 2.6))
    for ax, (name, image, labels, aspect) in zip(np.atleast_1d(axes), panels):
        ax.imshow(image, cmap="gray", vmin=-350, vmax=1250, aspect=aspect, interpolation="nearest")
        for value, colour in ((1, "red"), (2, "deepskyblue")):
            if (labels == value).any():
                ax.contour(labels == value, levels=[0.5], colors=colour, linewidths=0.5)
        ax.set_title(name, fontsize=7)
        ax.axis("off")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=55)
    plt.close(fig)


def axes_gallery(out: Path, seed: int = 7) -> list[Path]:
    """One PNG per variation axis (a row across its range, the rest pinned), negatives and SynthSeg."""
    written = []
    for axis, cases in AXES.items():
        panels = []
        for index, (name, pins) in enumerate(cases):
            extra = SPEED_PINS.get(axis, {})
            two_legs = pins.get("legs", "one") != "one"
            grid = {} if extra else WIDE_GRID if two_legs else GALLERY_GRID
            phantom = generate_phantom(seed, variation="wide", choices=axis_choices(axis, index, **extra), **grid)
            panels.append((name, *_axis_view(phantom, VIEWS.get(axis, "axial"))))
        written.append(out / f"axis-{axis}.png")
        _panel_row(written[-1], f"{axis} (seed {seed}; femur red, tibia blue)", panels)
        print(f"{axis}: {len(panels)} cases", flush=True)
    written += _negatives_and_synthseg(out, seed)
    return written


def _negatives_and_synthseg(out: Path, seed: int) -> list[Path]:
    from kneeseg_app.core.phantom.negatives import generate_negative
    from kneeseg_app.core.phantom.synthseg import randomise_contrast
    from kneeseg_app.core.phantom.variation import NEGATIVE_KINDS

    panels = []
    for kind in NEGATIVE_KINDS:
        neg = generate_negative(kind, seed, shape_zyx=(24, 256, 256), spacing_zyx=(5.0, 1.4, 1.4))
        panels.append((kind, neg.ct.array[12], neg.labels.array[12], 1.0))
    _panel_row(out / "negatives.png", "no-knee negatives (labels all 0)", panels)
    from kneeseg_app.core.phantom.variation import WideChoices

    phantom = generate_phantom(
        seed, variation="wide", choices=WideChoices(**NEUTRAL), with_tissues=True, **GALLERY_GRID
    )
    synth = []
    for i in range(4):
        image = randomise_contrast(phantom.tissues.array, phantom.ct.spacing_zyx, np.random.default_rng([seed, i]))
        phantom.ct = phantom.ct.with_array(image)
        synth.append((f"SynthSeg {i + 1}", *_axis_view(phantom, "axial")))
    _panel_row(out / "synthseg.png", "SynthSeg-style images of one case (labels unchanged)", synth)
    return [out / "negatives.png", out / "synthseg.png"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("out/gallery"))
    parser.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3, 4])
    parser.add_argument("--shape", type=int, nargs=3, default=None, help="z y x (default: drawn)")
    parser.add_argument("--oa", choices=["yes", "no", "drawn"], default="drawn")
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--axes", action="store_true", help="one PNG per variation axis of the wide generator")
    args = parser.parse_args()
    if args.timing:
        timing()
        return
    if args.axes:
        paths = axes_gallery(args.out)
        print(f"{len(paths)} PNGs, {sum(p.stat().st_size for p in paths) / 1e6:.2f} MB in {args.out}")
        return
    oa = {"yes": True, "no": False, "drawn": None}[args.oa]
    for seed in args.seeds:
        start = time.perf_counter()
        phantom = generate_phantom(seed, shape_zyx=tuple(args.shape) if args.shape else None, osteoarthritis=oa)
        print(f"seed {seed}: {phantom.ct.shape} in {time.perf_counter() - start:.1f} s; {phantom.params.describe()}")
        save_gallery(phantom, args.out / f"phantom-{seed}.png")


if __name__ == "__main__":
    main()
