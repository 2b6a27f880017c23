"""Segment independent knee-CT phantoms with the app's CLI, as a user would, and tabulate the result.

EVALUATION ONLY -- these phantoms are never used for training. Each case is generated
(or reused from --work when identical), then segmented with

    .venv/bin/kneeseg segment <case>/dicom --out <tmp>/labels.nii.gz --reference <case>/labels.nii.gz
                      --report <tmp>/report.json [--model M] [--threads T]

and its Dice / HD95 / ASSD per bone (the worst side when two knees), run time and checks
verdict go into a Markdown table and a JSON file. Usage (from the repository root):

    .venv/bin/python benchmarks/independent_phantoms/evaluate.py --cases 10 --seed 7 \\
        --model kneeseg-demo-nnunet2d --out benchmarks/independent_phantoms/results
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import SimpleITK as sitk  # noqa: E402

from benchmarks.independent_phantoms.generate import ensure_case  # noqa: E402
from benchmarks.independent_phantoms.params import Case, describe, draw_case  # noqa: E402

BONES = ("femur", "tibia")


def _worst(metrics: dict, bone: str) -> dict[str, float | None]:
    """The worst side's scores for one bone ('femur', or 'right femur' and 'left femur')."""
    rows = [m for name, m in (metrics or {}).items() if name.split()[-1] == bone]
    if not rows:
        return {"dice": None, "hd95_mm": None, "assd_mm": None}

    def pick(key: str, worst: object) -> float | None:
        values = [r.get(key) for r in rows if r.get(key) is not None]
        return worst(values) if values else None  # type: ignore[operator]

    return {"dice": pick("dice", min), "hd95_mm": pick("hd95_mm", max), "assd_mm": pick("assd_mm", max)}


def _global_dice(predicted: Path, reference: Path) -> dict[str, float | None]:
    """Dice per label over the whole volume (both knees together), as a cross-check of the report."""
    if not predicted.exists():
        return {bone: None for bone in BONES}
    pred = sitk.GetArrayFromImage(sitk.ReadImage(str(predicted)))
    ref = sitk.GetArrayFromImage(sitk.ReadImage(str(reference)))
    out = {}
    for value, bone in enumerate(BONES, start=1):
        p, r = pred == value, ref == value
        total = int(p.sum() + r.sum())
        out[bone] = round(2.0 * int((p & r).sum()) / total, 4) if total else None
    return out


def segment_case(
    case: Case, dicom_dir: Path, labels: Path, model: str | None, threads: int | None, keep: Path | None = None
) -> dict:
    """Run ``kneeseg segment`` on one case and collect what the table needs.

    ``keep``: also copy the predicted label map and the report there (to look at failures).
    """
    with tempfile.TemporaryDirectory(prefix="kneeseg-ind-") as tmp:
        out, report_path = Path(tmp) / "labels.nii.gz", Path(tmp) / "report.json"
        command = [
            str(ROOT / ".venv/bin/kneeseg"),
            "segment",
            str(dicom_dir),
            "--out",
            str(out),
            "--reference",
            str(labels),
            "--report",
            str(report_path),
        ]
        command += ["--model", model] if model else []
        command += ["--threads", str(threads)] if threads else []
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        seconds = time.perf_counter() - start
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
        global_dice = _global_dice(out, labels)
        if keep is not None and out.exists():
            shutil.copy(out, f"{keep}.nii.gz")
            if report_path.exists():
                shutil.copy(report_path, f"{keep}.json")
    checks = report.get("checks", {}).get("checks", [])
    return {
        "case": case.name,
        "variation": case.variation,
        "setting": describe(case),
        "exit": done.returncode,
        "seconds": round(seconds, 1),
        "status": report.get("status"),
        "failed_checks": [c["id"] for c in checks if c.get("status") != "pass"],
        "metrics": {bone: _worst(report.get("metrics") or {}, bone) for bone in BONES},
        "global_dice": global_dice,
        "volumes_ml": report.get("volumes_ml"),
        "stderr_tail": done.stderr[-600:] if done.returncode else "",
    }


def _fmt(value: float | None, digits: int) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def markdown(rows: list[dict], model: str) -> str:
    """One row per case: Dice / HD95 / ASSD per bone, seconds, the checks verdict."""
    lines = [
        f"Model: `{model}`",
        "",
        "| case | variation | setting | femur Dice | femur HD95 mm | femur ASSD mm | tibia Dice | tibia HD95 mm "
        "| tibia ASSD mm | s | checks |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f, t = r["metrics"]["femur"], r["metrics"]["tibia"]
        verdict = r["status"] or f"exit {r['exit']}"
        if r["failed_checks"]:
            verdict += " (" + ", ".join(r["failed_checks"]) + ")"
        lines.append(
            f"| {r['case']} | {r['variation']} | {r.get('setting', '')} | {_fmt(f['dice'], 3)} | {_fmt(f['hd95_mm'], 1)} | "
            f"{_fmt(f['assd_mm'], 2)} | {_fmt(t['dice'], 3)} | {_fmt(t['hd95_mm'], 1)} | "
            f"{_fmt(t['assd_mm'], 2)} | {r['seconds']:.0f} | {verdict} |"
        )
    dice = [r["metrics"][b]["dice"] or 0.0 for r in rows for b in BONES]
    if dice:
        lines += [
            "",
            f"Worst Dice {min(dice):.3f}, mean Dice {float(np.mean(dice)):.3f} "
            f"(two-knee cases: the worse side; a missing bone counts 0).",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", default=None, help="model name or package folder (default: the app's default)")
    parser.add_argument("--threads", type=int, default=1, help="--threads passed to kneeseg (0: the app's default)")
    parser.add_argument("--work", type=Path, default=None, help="where cases are generated / reused")
    parser.add_argument("--first", type=int, default=0, help="index of the first case")
    parser.add_argument("--keep", action="store_true", help="keep each predicted label map and report in --work")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/independent_phantoms/results")
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.gettempdir()) / f"kneeseg-independent-seed{args.seed}"
    label = args.model or "default"
    name = "-".join(Path(label).resolve().parts[-2:]) if Path(label).exists() else label
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for index in range(args.first, args.first + args.cases):
        case = draw_case(args.seed, index)
        dicom_dir, labels, gen_seconds = ensure_case(case, work)
        keep = work / case.name / f"predicted-{name}" if args.keep else None
        row = segment_case(case, dicom_dir, labels, args.model, args.threads or None, keep)
        row["generate_seconds"] = round(gen_seconds, 1)
        rows.append(row)
        print(json.dumps(row), flush=True)
    stem = f"seed{args.seed}_{name}"
    (args.out / f"{stem}.json").write_text(json.dumps({"seed": args.seed, "model": label, "rows": rows}, indent=1))
    (args.out / f"{stem}.md").write_text(markdown(rows, label))
    print(markdown(rows, label))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
