"""Accuracy of the planning landmarks against phantom truth, and the speed of ``kneeseg plan``.

Run:  PYTHONPATH=. python benchmarks/bench_planning.py accuracy [--cases 24] [--out DIR]
      PYTHONPATH=. python benchmarks/bench_planning.py stress [--out DIR]
      PYTHONPATH=. python benchmarks/bench_planning.py speed [--repeats 3] [--out DIR]

accuracy  draws phantoms (healthy and osteoarthritic, straight and flexed, rotated, one and
          two knees; 0.7 x 0.7 x 1.0 mm voxels; with the planning anatomy of
          :mod:`kneeseg_app.core.phantom.epicondyles` pinned on: a medial epicondylar sulcus and a
          posterior condylar twist drawn per knee, ``--classic-femur`` leaves them out), plans their reference labels (with the CT,
          as ``kneeseg plan --ct``) with :func:`plan_labels` and compares every landmark, angle and size with the truth of
          :mod:`kneeseg_app.core.phantom.truth` (the same rules on the continuous bone shapes,
          from the true axes). Writes accuracy.md / accuracy.csv (per value: median, 90th
          percentile, worst, n), cases.csv and sizes.csv (the four sizes, refined in the CT and
          the label's extent, against the exact and the 0.5 mm-sampled truth). The posterior condylar angle is compared where
          plan and truth take it against the same TEA (both found the sulcus, or neither);
          how often each found the sulcus is counted, and the truth's own sulcus and angle are
          checked against the generator's drawn ones.
stress    the same on 15 wide phantoms of issue 12's variation rows (prone and feet-first
          positions, 30-45 deg flexion, +-25 deg rotation, legs apart / touching, 3 and 5 mm
          slices, 60 mm to hip-to-ankle coverage): femoral head and ankle centres and the
          mechanical angles are compared where the scan reaches them.
speed     times ``kneeseg plan`` on a segmented 512 x 512 x 300 two-knee phantom: the core
          (plan_labels), and the command end to end (reading NIfTI labels and CT, plan.json,
          with and without the HTML report).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from kneeseg_app.core.phantom import draw_params, render_phantom
from kneeseg_app.core.phantom.epicondyles import with_planning_anatomy
from kneeseg_app.core.phantom.truth import phantom_truth
from kneeseg_app.core.planning import plan_labels

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as a script: the sibling scoring module
from planning_scores import (  # noqa: E402
    compare,
    size_rows,
    size_summary,
    sulcus_rows,
    sulcus_summary,
    summary_table,
    write_csv,
)

SPACING = (1.0, 0.7, 0.7)


def case_list(n: int) -> list[dict]:
    """A fixed, varied set: OA / healthy, 0-30 deg flexion, +-25 deg rotation, one / two knees."""
    cases = []
    for i in range(n):
        cases.append(
            {
                "seed": 500 + i,
                "oa": i % 2 == 1,
                "flexion": (0.0, 12.0, 25.0, 5.0)[i % 4],
                "both": i % 3 == 2,
                "rotation": (None, 25.0, -20.0, None, None, 35.0)[i % 6],
            }
        )
    return cases


def make_phantom(case: dict, planning_anatomy: bool = True):
    params = draw_params(
        case["seed"],
        spacing_zyx=SPACING,
        osteoarthritis=case["oa"],
        flexion_deg=case["flexion"],
        both_legs=case["both"],
        coverage_mm=(115.0, 115.0),
    )
    if case["rotation"] is not None:
        params = replace(params, legs=tuple(replace(leg, axial_rotation_deg=case["rotation"]) for leg in params.legs))
    return render_phantom(with_planning_anatomy(params) if planning_anatomy else params)


def accuracy(n_cases: int, out: Path, planning_anatomy: bool = True) -> None:
    out.mkdir(parents=True, exist_ok=True)
    all_rows, case_rows, sulci, sizes = [], [], [], []
    sides_ok = sides_total = 0
    for case in case_list(n_cases):
        start = time.perf_counter()
        phantom = make_phantom(case, planning_anatomy)
        truth = phantom_truth(phantom.params)
        plan = plan_labels(phantom.labels, phantom.ct)
        rows = compare(plan, truth)
        for r in rows:
            r["seed"] = case["seed"]
        all_rows += rows
        sulci += [{**r, "seed": case["seed"]} for r in sulcus_rows(plan, truth)]
        sizes += [{**r, "seed": case["seed"]} for r in size_rows(plan, truth)]
        true_sides = sorted(leg.side for leg in phantom.params.legs)
        found_sides = sorted(str(k.side) for k in plan.knees)
        sides_total += 1
        sides_ok += true_sides == found_sides
        worst = max((r["error"] for r in rows if r["kind"] == "landmark mm"), default=float("nan"))
        case_rows.append(
            {
                **case,
                "sides_true": "+".join(true_sides),
                "sides_found": "+".join(found_sides),
                "worst_landmark_mm": round(worst, 2),
                "plan_s": round(plan.seconds, 2),
                "case_s": round(time.perf_counter() - start, 1),
            }
        )
        print(case_rows[-1], flush=True)
    write_csv(out / "cases.csv", case_rows)
    write_csv(out / "accuracy_rows.csv", all_rows)
    write_csv(out / "sulcus.csv", sulci)
    write_csv(out / "sizes.csv", sizes)
    table = summary_table(all_rows)
    anatomy = "medial sulcus and posterior condylar twist drawn" if planning_anatomy else "classic femur"
    text = (
        f"{n_cases} phantoms ({sum(c['oa'] for c in case_list(n_cases))} osteoarthritic, "
        f"{sum(c['both'] for c in case_list(n_cases))} with both knees, flexion 0-25 deg, rotation -20..+35 deg, {anatomy}), "
        f"voxels {SPACING[2]} x {SPACING[1]} x {SPACING[0]} mm; sides right in {sides_ok}/{sides_total} scans.\n\n{table}\n\n"
        f"{sulcus_summary(sulci)}\n\n{size_summary(sizes)}\n"
    )
    (out / "accuracy.md").write_text(text, encoding="utf-8")
    print(text)


STRESS_ROWS = (
    ("position", 0), ("position", 1), ("position", 2), ("position", 3),
    ("flexion", 2), ("flexion", 3), ("rotation", 0), ("rotation", 2),
    ("legs", 1), ("legs", 2), ("slice-spacing", 2), ("slice-spacing", 3),
    ("coverage", 0), ("coverage", 2), ("coverage", 3),
)  # fmt: skip
"""Rows of issue 12's variation axes (kneeseg_app.core.phantom.axes): one axis varied at a time."""


def stress(out: Path, planning_anatomy: bool = True) -> None:
    """The same comparison on the wide generator's stress rows (prone, flexed 45 deg, 5 mm slices, hip-to-ankle)."""
    from kneeseg_app.core.phantom.axes import AXES as VARIATION_AXES
    from kneeseg_app.core.phantom.axes import axis_choices
    from kneeseg_app.core.phantom.draw_wide import draw_wide_params

    out.mkdir(parents=True, exist_ok=True)
    all_rows, case_rows = [], []
    for number, (axis, index) in enumerate(STRESS_ROWS):
        start = time.perf_counter()
        params = draw_wide_params(900 + number, axis_choices(axis, index))
        phantom = render_phantom(with_planning_anatomy(params) if planning_anatomy else params)
        truth = phantom_truth(phantom.params)
        plan = plan_labels(phantom.labels, phantom.ct)
        rows = compare(plan, truth)
        label = f"{axis}: {VARIATION_AXES[axis][index][0]}"
        for r in rows:
            r["case"] = label
        all_rows += rows
        true_sides = sorted(leg.side for leg in phantom.params.legs if truth.leg(leg.side).femur is not None)
        found = sorted(str(k.side) for k in plan.knees)
        worst = max((r["error"] for r in rows if r["kind"] == "landmark mm"), default=float("nan"))
        case_rows.append({"case": label, "size_zyx": "x".join(map(str, phantom.labels.shape)),
                          "sides_true": "+".join(true_sides), "sides_found": "+".join(found),
                          "values": len(rows), "worst_landmark_mm": round(worst, 2), "plan_s": round(plan.seconds, 2),
                          "case_s": round(time.perf_counter() - start, 1)})  # fmt: skip
        print(case_rows[-1], flush=True)
    write_csv(out / "stress_cases.csv", case_rows)
    write_csv(out / "stress_rows.csv", all_rows)
    cases = "\n".join(
        ["| case | voxels | sides (true / found) | values compared | worst landmark mm |", "|---|---|---|---|---|"]
        + [f"| {c['case']} | {c['size_zyx']} | {c['sides_true']} / {c['sides_found']} | {c['values']} | {c['worst_landmark_mm']} |"
           for c in case_rows]
    )  # fmt: skip
    sure = [r for r in all_rows if r["confidence"] != "low"]
    unsure = [r for r in all_rows if r["confidence"] == "low"]
    text = (
        f"{len(case_rows)} wide phantoms (issue 12's axes, one at a time):\n\n{cases}\n\n"
        f"Values planning gives with high or medium confidence:\n\n{summary_table(sure)}\n\n"
        f"Values it marks low confidence (slices over 2.5 mm, or a shaft axis it could not fit):\n\n"
        f"{summary_table(unsure)}\n"
    )
    (out / "stress.md").write_text(text, encoding="utf-8")
    print(text)


def speed(repeats: int, out: Path) -> None:
    """Time the core and the command on a 512 x 512 x 300 segmented case (both knees)."""
    import SimpleITK as sitk

    from kneeseg_app.core.imageio import write_label_map
    from kneeseg_app.core.phantom import generate_phantom

    out.mkdir(parents=True, exist_ok=True)
    phantom = generate_phantom(77, shape_zyx=(300, 512, 512), spacing_zyx=(0.7, 0.78, 0.78), both_legs=True)
    core, core_cpu = [], []
    for _ in range(repeats):
        cpu = time.process_time()
        core.append(plan_labels(phantom.labels, phantom.ct).seconds)
        core_cpu.append(time.process_time() - cpu)
    runs: dict[str, list[tuple[float, float]]] = {"plan.json": [], "plan.json + report": []}
    with tempfile.TemporaryDirectory() as tmp:
        labels_path, ct_path = Path(tmp) / "labels.nii.gz", Path(tmp) / "ct.nii.gz"
        write_label_map(phantom.labels, labels_path)
        sitk.WriteImage(phantom.ct.to_sitk(), str(ct_path))
        out_dir = Path(tempfile.mkdtemp(prefix="kneeseg-plan-bench-"))  # never inside the input folder
        for _ in range(repeats):
            for name, extra in (("plan.json", []), ("plan.json + report", ["--report", str(out_dir / "plan.html")])):
                cmd = [sys.executable, "-m", "kneeseg_app", "plan", str(labels_path), "--ct", str(ct_path)]
                cmd += ["--out", str(out_dir / "plan.json"), "--overwrite", *extra]
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(cmd, check=True, capture_output=True)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                runs[name].append((time.perf_counter() - start, cpu_s))
    load = os.getloadavg()[0]
    lines = [
        f"512 x 512 x 300 voxels (0.78 x 0.78 x 0.7 mm), both knees, with the CT; median of {repeats} runs "
        f"(wall clock and CPU time; load average {load:.1f} on {os.cpu_count()} cores while measuring):",
        "",
        "| what | wall s | CPU s |",
        "|---|---|---|",
        f"| plan_labels (core: split, clouds, landmarks, measures) | {statistics.median(core):.2f} "
        f"| {statistics.median(core_cpu):.2f} |",
    ]
    for name, values in runs.items():
        wall = statistics.median(v[0] for v in values)
        cpu_s = statistics.median(v[1] for v in values)
        lines.append(
            f"| `kneeseg plan --ct` end to end ({name}; process start, NIfTI read) | {wall:.2f} | {cpu_s:.2f} |"
        )
    text = "\n".join(lines) + "\n"
    (out / "speed.md").write_text(text, encoding="utf-8")
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="what", required=True)
    a = sub.add_parser("accuracy")
    a.add_argument("--cases", type=int, default=24)
    a.add_argument("--out", type=Path, default=Path("bench-planning"))
    w = sub.add_parser("stress")
    w.add_argument("--out", type=Path, default=Path("bench-planning"))
    for p in (a, w):
        p.add_argument("--classic-femur", action="store_true", help="without the drawn sulcus and condylar twist")
    s = sub.add_parser("speed")
    s.add_argument("--repeats", type=int, default=3)
    s.add_argument("--out", type=Path, default=Path("bench-planning"))
    args = parser.parse_args()
    if args.what == "accuracy":
        accuracy(args.cases, args.out, not args.classic_femur)
    elif args.what == "stress":
        stress(args.out, not args.classic_femur)
    else:
        speed(args.repeats, args.out)


if __name__ == "__main__":
    main()
