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
import resource
import time
from pathlib import Path

import numpy as np

from kneeseg_app.core.phantom import Phantom, generate_phantom
from kneeseg_app.core.phantom.variation import WideChoices

GALLERY_GRID = dict(shape_zyx=(64, 256, 256), spacing_zyx=(3.0, 1.2, 1.2))
WIDE_GRID = dict(shape_zyx=(40, 320, 320), spacing_zyx=(4.0, 1.5, 1.5))
"""Rows with both legs use a 480 mm field of view."""
NEUTRAL = dict(legs="one", off_centre=0.0, position="HFS", implant="none", contrast=False, calcification=False,
               padding_hu=-1024, noise_sd=12.0, sharpness=0.5, ringing=False, table="curved", aids=(), flexion_deg=5.0,
               rotation_deg=0.0, oa_grade=0, habitus=0.4, bone_quality=0.0, fabella=False, coverage_mm=(95.0, 95.0))
AXES: dict[str, list[tuple[str, dict, str]]] = {
    "kernel": [(f"sharpness {t}" + (" + ringing" if r else ""), dict(sharpness=t, ringing=r), "zoom")
               for t, r in ((0.0, False), (0.4, False), (0.8, False), (1.0, True))],
    "noise": [(f"noise {n:.0f} HU", dict(noise_sd=n), "zoom") for n in (5.0, 20.0, 40.0, 60.0)],
    "fov-matrix": [(f"FOV {f:.0f} mm, {p} px", dict(fov_mm=f, pixels=p, coverage_mm=(20.0, 20.0), slice_mm=5.0), "stored")
                   for f, p in ((150.0, 512), (250.0, 256), (380.0, 768), (500.0, 1024))],
    "slice-spacing": [(f"slices {z} mm", dict(slice_mm=z, fov_mm=200.0, pixels=256, coverage_mm=(70.0, 70.0)), "coronal")
                      for z in (0.5, 1.25, 3.0, 5.0)],
    "padding": [(f"padding {p}", dict(padding_hu=p), "stored") for p in (None, -3024, -2048, -2000, -1024, 0)],
    "legs": [("one leg", dict(legs="one"), "stored"), ("apart", dict(legs="apart", centre_on_pair=True), "stored"),
             ("touching", dict(legs="touching"), "stored"), ("cut by the FOV", dict(legs="one", off_centre=0.75), "stored")],
    "position": [(p, dict(position=p, legs="touching", centre_on_pair=True), "stored") for p in ("HFS", "FFS", "HFP", "FFP")],
    "flexion": [(f"flexion {f:.0f} deg", dict(flexion_deg=f), "sagittal") for f in (0.0, 15.0, 30.0, 45.0)],
    "rotation": [(f"rotation {r:+.0f} deg", dict(rotation_deg=r), "axial") for r in (-25.0, 0.0, 25.0)],
    "coverage": [(f"{a + b:.0f} mm", dict(coverage_mm=(a, b), fov_mm=400.0, pixels=256, slice_mm=z), "coronal")
                 for a, b, z in ((30.0, 30.0, 1.0), (100.0, 100.0, 2.0), (260.0, 240.0, 4.0), (640.0, 560.0, 5.0))],
    "table": [(t + (" + " + "+".join(a) if a else ""), dict(table=t, aids=a), "stored")
              for t, a in (("curved", ()), ("flat", ("rails",)), ("mattress", ("wedge",)), ("flat", ("gel", "strap")), ("none", ()))],
    "metal": [(f"{k}{' (other leg)' if not same else ''}", dict(implant=k, implant_same_leg=same, legs="touching" if not same else "one", centre_on_pair=True), "coronal")
              for k, same in (("tkr", True), ("plate", True), ("nail", True), ("tkr", False))],
    "vessels": [("none", dict(), "axial-low"), ("contrast", dict(contrast=True), "axial-low"),
                ("calcified", dict(calcification=True), "axial-low"), ("both", dict(contrast=True, calcification=True), "axial-low")],
    "habitus": [(f"habitus {h}", dict(habitus=h), "axial") for h in (0.0, 0.35, 0.7, 1.0)],
    "bone-quality": [(f"bone {q:+.1f}", dict(bone_quality=q), "zoom") for q in (-1.0, -0.4, 0.4, 1.0)],
    "osteoarthritis": [(f"grade {g}{' valgus' if v < 0 else ''}", dict(oa_grade=g, varus_deg=v), "coronal")
                       for g, v in ((0, 8.0), (2, 8.0), (3, 10.0), (4, 14.0), (4, -12.0))],
    "fabella": [("no fabella", dict(fabella=False), "sagittal-lateral"), ("fabella", dict(fabella=True), "sagittal-lateral")],
}


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
        zy, zx = slice(max(ky - int(45 / sy), 0), ky + int(45 / sy)), slice(max(kx - int(45 / sx), 0), kx + int(45 / sx))
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
        for name, pins, view in cases:
            two_legs = pins.get("legs", "one") != "one"
            grid = {} if {"fov_mm", "slice_mm"} & set(pins) else WIDE_GRID if two_legs else GALLERY_GRID
            phantom = generate_phantom(seed, variation="wide", choices=WideChoices(**{**NEUTRAL, **pins}), **grid)
            panels.append((name, *_axis_view(phantom, view)))
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
    phantom = generate_phantom(seed, variation="wide", choices=WideChoices(**NEUTRAL), with_tissues=True, **GALLERY_GRID)
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
