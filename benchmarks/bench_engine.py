"""CPU speed of the KneeSeg engine against nnU-Net's own predictor, on the same model and volumes.

Run (the [train] extra is needed for nnU-Net; see benchmarks/README.md for the model):
  PYTHONPATH=. python benchmarks/bench_engine.py compare --results RESULTS --package PACKAGE \
      [--sizes 150,300,600] [--repeats 3] [--methods a,b,c,d,e] [--slab N] [--out DIR]
  PYTHONPATH=. python benchmarks/bench_engine.py e2e --package PACKAGE [--sizes 300,600] [--repeats 3]

``compare`` segments phantom knee CTs (512 x 512 slices, 0.78 x 0.78 x 1 mm, H2's
phantom generator with fixed seeds) with

  (a) nnUNetPredictor on CPU, nnU-Net's defaults (mirroring on, step 0.5)
  (b) nnUNetPredictor without mirroring
  (c) the engine with exactly (a)'s settings   (SegmentOptions(exact=True, tta=True), no post-processing)
  (d) the engine with (b)'s settings           (exact=True, tta=False, no post-processing)
  (e) the engine with its own defaults         (the package manifest's 'inference' section)
  (f) (e) plus test-time mirroring along the first in-plane axis only (2 network runs per slice)

each run in its own process (peak resident memory = ``ru_maxrss``), interleaved
(repeat -> volume -> method) so drift of a shared machine spreads over all methods.
Reported per volume: median wall time of the segmentation call (volume in memory to
labels in memory; model loading is reported apart), peak memory, Dice per bone
against the ground truth and against (a)'s labels, and the ratios (a)/(c), (b)/(d),
(a)/(e). ``--slab N`` runs only the middle N slices of each volume and extrapolates
the times linearly to the whole volume (marked 'slab'); memory is then the slab's.

``options`` runs each engine speed option (bone windows, skipped slices, slice stride,
resampling tolerance, mirroring) on one whole volume and reports its gain over the exact
path and its Dice cost (against the truth and against the exact labels).

``e2e`` times the command line end to end (``kneeseg segment DICOM_DIR --out x.nii.gz``:
DICOM read, segmentation, label map written) on phantom DICOM series, with peak memory.

Outputs ``DIR/compare.md``, ``DIR/compare.csv`` (and ``e2e.md``/``e2e.csv``); the last
measured tables are kept in benchmarks/README.md. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SPACING_ZYX = (1.0, 0.78125, 0.78125)
"""A 400 mm field of view on 512 pixels, 1 mm slices (resampled to the plans' 0.8 mm)."""
SEEDS = {150: 101, 300: 102, 600: 103}
METHODS = {
    "a": "nnUNetPredictor, mirroring on, step 0.5",
    "b": "nnUNetPredictor, no mirroring",
    "c": "engine, settings of (a) (exact)",
    "d": "engine, settings of (b) (exact)",
    "e": "engine, its defaults",
    "f": "engine, its defaults + mirroring along y",
}
BONES = {1: "femur", 2: "tibia"}


# ----------------------------------------------------------------------------
# cases
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    size: int
    folder: Path

    def load(self, slab: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        ct = np.load(self.folder / "ct.npy")
        labels = np.load(self.folder / "labels.npy")
        if slab and slab < ct.shape[0]:
            start = (ct.shape[0] - slab) // 2
            ct, labels = ct[start : start + slab].copy(), labels[start : start + slab].copy()
        return ct, labels


def prepare_case(size: int, out: Path) -> Case:
    """The phantom of one size, generated once and cached as .npy."""
    folder = out / "cases" / f"knee_{size}"
    if not (folder / "labels.npy").is_file():
        from kneeseg_app.core.phantom import generate_phantom

        folder.mkdir(parents=True, exist_ok=True)
        phantom = generate_phantom(SEEDS.get(size, 100 + size), shape_zyx=(size, 512, 512), spacing_zyx=SPACING_ZYX)
        np.save(folder / "ct.npy", phantom.ct.array)
        np.save(folder / "labels.npy", phantom.labels.array)
        (folder / "meta.json").write_text(json.dumps({"seed": SEEDS.get(size), "spacing_zyx": SPACING_ZYX}))
    return Case(size, folder)


def dice(a: np.ndarray, b: np.ndarray, label: int) -> float:
    x, y = a == label, b == label
    total = int(x.sum()) + int(y.sum())
    return 1.0 if total == 0 else 2.0 * int((x & y).sum()) / total


# ----------------------------------------------------------------------------
# one run (in its own process)
# ----------------------------------------------------------------------------
def run_nnunet(
    ct: np.ndarray, results: Path, mirroring: bool, threads: int
) -> tuple[np.ndarray, float, dict[str, Any]]:
    import torch
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    torch.set_num_threads(threads)
    started = time.perf_counter()
    predictor = nnUNetPredictor(
        tile_step_size=0.5,
        use_gaussian=True,
        use_mirroring=mirroring,
        device=torch.device("cpu"),
        verbose=False,
        allow_tqdm=False,
    )
    predictor.initialize_from_trained_model_folder(str(results), use_folds=(0,), checkpoint_name="checkpoint_final.pth")
    load = time.perf_counter() - started
    started = time.perf_counter()
    labels = predictor.predict_single_npy_array(ct[None].astype(np.float32), {"spacing": list(SPACING_ZYX)})
    return np.asarray(labels, dtype=np.uint8), time.perf_counter() - started, {"load_seconds": load}


def engine_options(method: str, threads: int) -> Any:
    from kneeseg_app.core.inference.engine import SegmentOptions

    if method == "c":
        return SegmentOptions(exact=True, tta=True, tile_step_size=0.5, postprocess=False, threads=threads)
    if method == "d":
        return SegmentOptions(exact=True, tta=False, tile_step_size=0.5, postprocess=False, threads=threads)
    if method == "f":
        return SegmentOptions(threads=threads, mirror_axes=(0,))
    return SegmentOptions(threads=threads)


def run_engine(ct: np.ndarray, package: Path, method: str, threads: int) -> tuple[np.ndarray, float, dict[str, Any]]:
    from kneeseg_app.core.inference.engine import Segmenter
    from kneeseg_app.core.model.package import load_model_package
    from kneeseg_app.core.volume import Volume

    started = time.perf_counter()
    segmenter = Segmenter(load_model_package(package), engine_options(method, threads))
    segmenter.networks()
    load = time.perf_counter() - started
    volume = Volume(ct, SPACING_ZYX)
    started = time.perf_counter()
    result = segmenter.run(volume)
    seconds = time.perf_counter() - started
    extra = {
        "load_seconds": load,
        "stages": {k: round(v, 2) for k, v in result.stage_seconds.items()},
        "settings": {
            k: v
            for k, v in result.settings.items()
            if k in ("tta", "roi", "precision", "skip_empty_slices", "threads", "exact")
        },
    }
    return result.labels.array, seconds, extra


def worker(args: argparse.Namespace) -> int:
    ct, _ = Case(args.size, args.case).load(args.slab)
    if args.method in ("a", "b"):
        labels, seconds, extra = run_nnunet(ct, args.results, args.method == "a", args.threads)
    else:
        labels, seconds, extra = run_engine(ct, args.package, args.method, args.threads)
    np.save(args.result.with_suffix(".npy"), labels)
    report = {"seconds": seconds, "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}
    args.result.with_suffix(".json").write_text(json.dumps(report))
    return 0


def spawn(command: list[str], threads: int) -> subprocess.CompletedProcess:
    """One run in a fresh process (its own peak memory); nnU-Net's environment comes from the
    trainer (it must find KneeSeg's trainer classes), when the [train] extra is installed."""
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads), PYTHONPATH=str(REPO))
    try:
        from trainer.nnunet.env import ext_trainer_dir
    except ImportError:
        pass
    else:
        env.update(
            nnUNet_extTrainer=str(ext_trainer_dir()),
            nnUNet_raw=env.get("nnUNet_raw", "unused"),
            nnUNet_preprocessed=env.get("nnUNet_preprocessed", "unused"),
            nnUNet_results=env.get("nnUNet_results", "unused"),
        )
    return subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), *command],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
    )


# ----------------------------------------------------------------------------
# compare
# ----------------------------------------------------------------------------
def compare(args: argparse.Namespace) -> int:
    out = args.out
    methods = args.methods.split(",")
    cases = [prepare_case(s, out) for s in args.sizes]
    runs: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for repeat in range(args.repeats):
        for case in cases:
            for method in methods:
                result = out / "runs" / f"{case.size}_{method}_{repeat}"
                result.parent.mkdir(parents=True, exist_ok=True)
                command = [
                    "worker",
                    method,
                    str(case.folder),
                    str(result),
                    "--size",
                    str(case.size),
                    "--results",
                    str(args.results),
                    "--package",
                    str(args.package),
                    "--threads",
                    str(args.threads),
                ]
                if args.slab:
                    command += ["--slab", str(args.slab)]
                done = spawn(command, args.threads)
                if done.returncode != 0:
                    print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
                    raise SystemExit(f"run {case.size}/{method} failed")
                report = json.loads(result.with_suffix(".json").read_text(encoding="utf-8"))
                runs.setdefault((case.size, method), []).append(report)
                print(
                    f"[{repeat}] {case.size:4d} slices  ({method}) {report['seconds']:8.1f} s  {report['maxrss_mb']:7.0f} MB"
                    f"  {report.get('stages', '')}",
                    flush=True,
                )
    rows = summarize(cases, methods, runs, args)
    write_tables(rows, methods, out, args)
    return 0


def summarize(cases: list[Case], methods: list[str], runs: dict, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One row per volume and method: times, memory, Dice against the truth and against (a)."""
    rows = []
    for case in cases:
        _, truth = case.load(args.slab)
        n_run = truth.shape[0]
        scale = case.size / n_run
        labels = {m: np.load(args.out / "runs" / f"{case.size}_{m}_0.npy") for m in methods}
        medians = {m: statistics.median(r["seconds"] for r in runs[(case.size, m)]) for m in methods}
        for m in methods:
            row = {
                "slices": case.size,
                "method": m,
                "what": METHODS[m],
                "seconds": medians[m] * scale,
                "extrapolated": scale != 1,
                "runs": len(runs[(case.size, m)]),
                "load_s": statistics.median(r["load_seconds"] for r in runs[(case.size, m)]),
                "peak_mb": max(r["maxrss_mb"] for r in runs[(case.size, m)]),
                "stages": runs[(case.size, m)][0].get("stages", {}),
            }
            for value, bone in BONES.items():
                row[f"dice_gt_{bone}"] = dice(labels[m], truth, value)
                if "a" in labels:
                    row[f"dice_a_{bone}"] = dice(labels[m], labels["a"], value)
            rows.append(row)
        for num, den in (("a", "c"), ("b", "d"), ("a", "e"), ("a", "f")):
            if num in medians and den in medians:
                for row in rows:
                    if row["slices"] == case.size and row["method"] == den:
                        row[f"ratio_{num}{den}"] = medians[num] / medians[den]
    return rows


def machine() -> str:
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    import onnxruntime

    versions = f"onnxruntime {onnxruntime.__version__}"
    try:
        from importlib.metadata import version

        import nnunetv2  # noqa: F401
        import torch

        versions += f", torch {torch.__version__}, nnunetv2 {version('nnunetv2')}"
    except ImportError:
        pass
    return f"{model}, {len(os.sched_getaffinity(0))} cores, {platform.python_version()}, {versions}"


def write_tables(rows: list[dict[str, Any]], methods: list[str], out: Path, args: argparse.Namespace) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fields = [
        "slices",
        "method",
        "what",
        "seconds",
        "extrapolated",
        "runs",
        "load_s",
        "peak_mb",
        "dice_gt_femur",
        "dice_gt_tibia",
        "dice_a_femur",
        "dice_a_tibia",
        "ratio_ac",
        "ratio_bd",
        "ratio_ae",
        "ratio_af",
    ]
    with open(out / "compare.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()})
    slab = f", times extrapolated from the middle {args.slab} slices" if args.slab else ""
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {machine()}, {args.threads} threads{slab}.",
        f"Command: `{' '.join(['python', 'benchmarks/bench_engine.py', *sys.argv[1:]])}`",
        "",
        "| slices | run | seconds | peak MB | Dice femur / tibia vs truth | Dice femur / tibia vs (a) | speed-up |",
        "|---:|---|---:|---:|---|---|---|",
    ]
    for row in rows:
        ratio = " ".join(
            f"{k[-2]}/{k[-1]} = {row[k]:.1f}x" for k in ("ratio_ac", "ratio_bd", "ratio_ae", "ratio_af") if k in row
        )
        vs_a = f"{row.get('dice_a_femur', float('nan')):.4f} / {row.get('dice_a_tibia', float('nan')):.4f}"
        lines.append(
            f"| {row['slices']} | ({row['method']}) {row['what']} | {row['seconds']:.1f}{'*' if row['extrapolated'] else ''} "
            f"| {row['peak_mb']:.0f} | {row['dice_gt_femur']:.4f} / {row['dice_gt_tibia']:.4f} | {vs_a} | {ratio} |"
        )
    if args.slab:
        lines += [
            "",
            f"\\* extrapolated: measured on {args.slab} slices, multiplied by slices / {args.slab}; memory and Dice are the slab's.",
        ]
    (out / "compare.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


# ----------------------------------------------------------------------------
# end to end through the command line
# ----------------------------------------------------------------------------
def dicom_case(size: int, out: Path) -> Path:
    folder = out / "dicom" / f"knee_{size}"
    if not folder.is_dir():
        from kneeseg_app.core.dicom.write import write_dicom_series
        from kneeseg_app.core.volume import Volume

        case = prepare_case(size, out)
        ct, _ = case.load()
        write_dicom_series(Volume(ct, SPACING_ZYX), folder, seed=SEEDS.get(size, size))
    return folder


def e2e_worker(args: argparse.Namespace) -> int:
    from kneeseg_app.cli import main as cli_main

    started = time.perf_counter()
    code = cli_main(
        ["segment", str(args.dicom), "--out", str(args.labels), "--model", str(args.package), "--overwrite"]
    )
    report = {
        "seconds_in_process": time.perf_counter() - started,
        "code": code,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    args.report.write_text(json.dumps(report))
    return code


def e2e(args: argparse.Namespace) -> int:
    out = args.out
    rows = []
    for size in args.sizes:
        folder = dicom_case(size, out)
        times, memory = [], []
        for repeat in range(args.repeats):
            labels = out / "e2e" / f"labels_{size}.nii.gz"
            report = out / "e2e" / f"report_{size}_{repeat}.json"
            labels.parent.mkdir(parents=True, exist_ok=True)
            started = time.perf_counter()
            done = spawn(
                ["e2e-worker", str(folder), str(labels), str(report), "--package", str(args.package)], args.threads
            )
            wall = time.perf_counter() - started
            if done.returncode != 0:
                print(done.stdout[-2000:], done.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"end-to-end run on {size} slices failed")
            measured = json.loads(report.read_text(encoding="utf-8"))
            times.append(wall)
            memory.append(measured["maxrss_mb"])
            print(
                f"[{repeat}] {size} slices: {wall:.1f} s wall (process), {measured['maxrss_mb']:.0f} MB peak",
                flush=True,
            )
            print(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "", flush=True)
        rows.append({"slices": size, "seconds": statistics.median(times), "peak_mb": max(memory), "runs": len(times)})
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {machine()}.",
        f"Command: `{' '.join(['python', 'benchmarks/bench_engine.py', *sys.argv[1:]])}`",
        "",
        "| slices | seconds (process start to label map written, median) | peak MB | runs |",
        "|---:|---:|---:|---:|",
    ] + [f"| {r['slices']} | {r['seconds']:.1f} | {r['peak_mb']:.0f} | {r['runs']} |" for r in rows]
    with open(out / "e2e.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, ["slices", "seconds", "peak_mb", "runs"])
        writer.writeheader()
        writer.writerows(rows)
    (out / "e2e.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


# ----------------------------------------------------------------------------
# each speed option's gain and cost
# ----------------------------------------------------------------------------
OPTION_SETS = {
    "exact": dict(exact=True, tta=False),
    "exact + post-processing": dict(exact=True, tta=False, postprocess=True),
    "bone windows": dict(roi="bones", skip_empty_slices=False),
    "bone windows + skip bone-free slices (defaults)": dict(roi="bones", skip_empty_slices=True),
    "defaults + slice stride 2": dict(roi="bones", skip_empty_slices=True, slice_stride=2),
    "defaults + resample tolerance 0.25": dict(roi="bones", skip_empty_slices=True, resample_tolerance=0.25),
    "defaults + mirroring (2 axes)": dict(roi="bones", skip_empty_slices=True, tta=True),
}
"""Option sets of ``options``; post-processing is on except for "exact" (nnU-Net's output)."""


def options(args: argparse.Namespace) -> int:
    """Each option set on one whole volume, in this process, interleaved over repeats."""
    from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
    from kneeseg_app.core.model.package import load_model_package
    from kneeseg_app.core.volume import Volume

    ct, truth = prepare_case(args.size, args.out).load()
    volume = Volume(ct, SPACING_ZYX)
    package = load_model_package(args.package)
    times: dict[str, list[float]] = {}
    labels: dict[str, np.ndarray] = {}
    for repeat in range(args.repeats):
        for name, values in OPTION_SETS.items():
            if name.startswith("exact") and repeat > 0:
                continue  # minutes each; one run is enough for the reference labels
            settings = {"threads": args.threads, "postprocess": name != "exact", "tta": False, **values}
            started = time.perf_counter()
            result = Segmenter(package, SegmentOptions(**settings)).run(volume)
            times.setdefault(name, []).append(time.perf_counter() - started)
            labels[name] = result.labels.array
            print(f"[{repeat}] {name:48s} {times[name][-1]:7.1f} s", flush=True)
    exact = labels["exact"]
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {machine()}, {args.threads} threads; "
        f"{args.size} x 512 x 512 phantom, median of {args.repeats} runs (exact: 1 run).",
        f"Command: `{' '.join(['python', 'benchmarks/bench_engine.py', *sys.argv[1:]])}`",
        "",
        "| options | seconds | speed-up vs exact | Dice femur / tibia vs truth | Dice femur / tibia vs exact |",
        "|---|---:|---:|---|---|",
    ]
    base = statistics.median(times["exact"])
    for name in OPTION_SETS:
        t = statistics.median(times[name])
        lines.append(
            f"| {name} | {t:.1f} | {base / t:.1f}x | {dice(labels[name], truth, 1):.4f} / {dice(labels[name], truth, 2):.4f} "
            f"| {dice(labels[name], exact, 1):.4f} / {dice(labels[name], exact, 2):.4f} |"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"options_{args.size}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


# ----------------------------------------------------------------------------
def sizes(text: str) -> list[int]:
    return [int(s) for s in text.split(",") if s.strip()]


def parser() -> argparse.ArgumentParser:
    from kneeseg_app.core.inference.settings import default_threads

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compare", help="nnUNetPredictor vs the engine, interleaved")
    c.add_argument(
        "--results", type=Path, required=True, help="nnU-Net results folder (plans.json, fold_0/checkpoint_final.pth)"
    )
    c.add_argument("--package", type=Path, required=True, help="the matching KneeSeg model package")
    c.add_argument("--sizes", type=sizes, default=[150, 300, 600])
    c.add_argument("--repeats", type=int, default=3)
    c.add_argument("--methods", default="a,b,c,d,e")
    c.add_argument("--slab", type=int, help="run only the middle N slices and extrapolate (quick mode)")
    c.add_argument("--threads", type=int, default=default_threads())
    c.add_argument("--out", type=Path, default=REPO / "build" / "bench_engine")
    c.set_defaults(func=compare)
    e = sub.add_parser("e2e", help="kneeseg segment on DICOM, end to end")
    e.add_argument("--package", type=Path, required=True)
    e.add_argument("--sizes", type=sizes, default=[300, 600])
    e.add_argument("--repeats", type=int, default=3)
    e.add_argument("--threads", type=int, default=default_threads())
    e.add_argument("--out", type=Path, default=REPO / "build" / "bench_engine")
    e.set_defaults(func=e2e)
    o = sub.add_parser("options", help="each engine speed option's gain and Dice cost on one volume")
    o.add_argument("--package", type=Path, required=True)
    o.add_argument("--size", type=int, default=300)
    o.add_argument("--repeats", type=int, default=3)
    o.add_argument("--threads", type=int, default=default_threads())
    o.add_argument("--out", type=Path, default=REPO / "build" / "bench_engine")
    o.set_defaults(func=options)
    w = sub.add_parser("worker")
    w.add_argument("method", choices=sorted(METHODS))
    w.add_argument("case", type=Path)
    w.add_argument("result", type=Path)
    w.add_argument("--size", type=int, required=True)
    w.add_argument("--results", type=Path)
    w.add_argument("--package", type=Path)
    w.add_argument("--threads", type=int, default=2)
    w.add_argument("--slab", type=int)
    w.set_defaults(func=worker)
    ew = sub.add_parser("e2e-worker")
    ew.add_argument("dicom", type=Path)
    ew.add_argument("labels", type=Path)
    ew.add_argument("report", type=Path)
    ew.add_argument("--package", type=Path, required=True)
    ew.set_defaults(func=e2e_worker)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
