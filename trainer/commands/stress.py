"""``kneeseg-train stress``: a model package on the fixed stress suite, worst row first.

Writes ``OUT/stress.md`` (the table) and ``OUT/stress.json`` (every case); with
``--write-readme`` the table replaces the stress section of the package's README.md, with
``--write-manifest`` the summary goes into the manifest's ``stress`` section (validated,
written atomically). The suite and its seeds: :mod:`trainer.stress_suite`.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import math
import os
import time
from pathlib import Path

from kneeseg_app.core.atomic import write_atomic
from kneeseg_app.core.errors import KneeSegError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "stress",
        help="the fixed stress suite (one row per variation axis, plus no-knee CT) with the app's defaults",
        description="Segment the stress suite with a model package and the app's defaults; report Dice, HD95 "
        "and ASSD per bone (mL of bone for CT without a knee), worst row first.",
    )
    p.add_argument("--package", type=Path, default=None, help="model package folder (default: the bundled default)")
    p.add_argument("--out", type=Path, required=True, help="folder for stress.md and stress.json")
    p.add_argument("--cases-per-row", type=int, default=None, help="first N values of each axis (default: all)")
    p.add_argument("--negatives-per-kind", type=int, default=2, help="cases per no-knee kind (default 2)")
    p.add_argument("--rows", nargs="*", default=[], metavar="WORD", help="only axes whose name contains a WORD")
    p.add_argument("--negatives", nargs="*", default=None, metavar="KIND", help="no-knee kinds (default: all)")
    p.add_argument("--quick", action="store_true", help="tiny grids (a smoke test, not a measurement)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads of the engine (default: the app's)")
    p.add_argument("--write-readme", action="store_true", help="put the table into the package's README.md")
    p.add_argument("--write-manifest", action="store_true", help="put the summary into the package's manifest")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kneeseg_app.core.model.discovery import find_model
    from kneeseg_app.core.model.manifest import update_manifest
    from kneeseg_app.core.phantom.variation import NEGATIVE_KINDS
    from trainer.stress import markdown_table, replace_readme_section, run_suite, summary
    from trainer.stress_suite import rows_named, suite_cases

    if (args.cases_per_row is not None and args.cases_per_row < 1) or args.negatives_per_kind < 0:
        raise KneeSegError("--cases-per-row must be at least 1 and --negatives-per-kind at least 0.")
    negatives = tuple(NEGATIVE_KINDS if args.negatives is None else args.negatives)
    unknown = set(negatives) - set(NEGATIVE_KINDS)
    if unknown:
        raise KneeSegError(f"Unknown no-knee kind {sorted(unknown)[0]!r} (known: {', '.join(NEGATIVE_KINDS)}).")
    rows = rows_named(args.rows)
    if args.rows and not rows:
        raise KneeSegError("No axis of the stress suite matches --rows.")
    package = find_model(str(args.package) if args.package else None)
    scale = "quick" if args.quick else "full"
    cases = suite_cases(args.cases_per_row, scale, rows, negatives, args.negatives_per_kind)
    started = time.perf_counter()
    outcome = run_suite(package, cases, args.threads, _printer())
    minutes = (time.perf_counter() - started) / 60
    bones = list(package.label_names.values())
    table = markdown_table(outcome, bones)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    today = datetime.date.today().isoformat()
    source = f"{package.name} {package.manifest.version}, app defaults, {cores} CPU cores, {today}, {minutes:.1f} min"
    info = summary(outcome, bones, source + (" (quick: tiny grids)" if args.quick else ""))
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "stress.md", lambda tmp: tmp.write_text(table, encoding="utf-8"))
    cases_json = [_case_json(c) for row in outcome for c in row.cases]
    text = json.dumps({"summary": dataclasses.asdict(info), "cases": cases_json}, indent=2)
    write_atomic(args.out / "stress.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    print(table)
    print(f"{len(cases)} cases in {minutes:.1f} min; worst row: {info.worst_row} {dict(info.worst_dice)}")
    if args.write_readme:
        readme = package.path / "README.md"
        old = readme.read_text(encoding="utf-8") if readme.exists() else f"# {package.name}\n"
        heading = f"## Stress suite ({info.suite}: seeds 90000-96999, never trained on; worst row first; {source})"
        new = replace_readme_section(old, table, heading)
        write_atomic(readme, lambda tmp: tmp.write_text(new, encoding="utf-8"))
        print(f"README   {readme}")
    if args.write_manifest:
        update_manifest(package.path, stress=info)
        print(f"manifest {package.path / 'manifest.json'} (stress)")
    return 0


def _case_json(case) -> dict:
    def clean(values: dict) -> dict:
        return {k: (None if math.isinf(v) else round(v, 4)) for k, v in values.items()}

    return {
        "row": case.case.row,
        "case": case.case.case_id,
        "value": case.case.label,
        "seed": case.case.seed,
        "shape_zyx": list(case.shape),
        "seconds": round(case.seconds, 2),
        "dice": clean(case.dice),
        "hd95_mm": clean(case.hd95_mm),
        "assd_mm": clean(case.assd_mm),
        "predicted_ml": clean(case.predicted_ml),
        "largest_component_rule": clean(case.largest_rule),
    }


def _printer():
    import sys

    def report(stage: str, fraction: float) -> None:
        print(f"[{fraction * 100:5.1f}%] {stage}", file=sys.stderr, flush=True)

    return report
