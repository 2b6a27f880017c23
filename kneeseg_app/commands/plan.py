"""``kneeseg plan LABELS --ct CT --out plan.json``: landmarks, axes and measurements for implant planning.

Reads a femur/tibia label map (the output of ``kneeseg segment``), optionally its CT, and
writes plan.json (schema: docs/plan-schema.md); on request the one-page HTML report and the
bone meshes in each bone's own coordinate system.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kneeseg_app.core.errors import OutputError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "plan",
        help="find knee landmarks, axes and implant sizes in a femur/tibia label map",
        description="Find the landmarks, axes and measurements a custom knee prosthesis is planned from "
        "(per knee, LPS mm, each with how it was found and how sure it is) and write them as JSON. "
        "Research software, not for clinical use.",
    )
    parser.add_argument("labels", metavar="LABELS", help="label map (1 femur, 2 tibia): .nii.gz, .nii, .nrrd or .mha")
    parser.add_argument(
        "--ct",
        metavar="CT",
        help="the CT the labels belong to (DICOM folder or image file): pictures, side from the fibula",
    )
    parser.add_argument("--series", metavar="UID_OR_INDEX", help="which series of a DICOM folder given as --ct")
    parser.add_argument("--out", "-o", required=True, metavar="PLAN_JSON", help="plan to write (.json)")
    parser.add_argument(
        "--extra-labels",
        nargs="+",
        default=[],
        metavar="LABELS",
        help="label maps of other series of the same study (hip, ankle; same patient coordinates): "
        "the femoral head and ankle centres are sought there when LABELS lacks them",
    )
    parser.add_argument(
        "--side", choices=("left", "right"), help="the side of a single-knee scan (default: found from the images)"
    )
    parser.add_argument("--report", metavar="HTML", help="also write the one-page planning report (.html)")
    parser.add_argument(
        "--segment-report",
        metavar="JSON",
        help="the report of 'kneeseg segment --report': model and checks in the planning report",
    )
    parser.add_argument(
        "--identifiers", action="store_true", help="show file paths, series description and UIDs in the report"
    )
    parser.add_argument("--meshes", metavar="DIR", help="also write each knee's femur and tibia surfaces into DIR")
    parser.add_argument(
        "--bone-frame",
        action="store_true",
        help="write the meshes in each bone's own coordinate system (see docs/plan-schema.md)",
    )
    parser.add_argument(
        "--mesh-format", choices=("stl", "obj", "ply"), default="stl", help="mesh file format (default: binary STL)"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.set_defaults(func=run)


def _check_new(path: Path, overwrite: bool, suffixes: tuple[str, ...]) -> None:
    if path.suffix.lower() not in suffixes:
        raise OutputError(f"{path.name} should end in {' or '.join(suffixes)}.")
    if path.exists() and not overwrite:
        raise OutputError(f"{path} exists; pass --overwrite to replace it.")


def run(args: argparse.Namespace) -> int:
    from kneeseg_app.core import imageio
    from kneeseg_app.core.atomic import ensure_not_inside
    from kneeseg_app.core.planning import plan_labels
    from kneeseg_app.core.planning.serialize import plan_dict, write_plan

    out = Path(args.out)
    protected = [p for p in (args.labels, args.ct, *args.extra_labels) if p]
    _check_new(out, args.overwrite, (".json",))
    ensure_not_inside(out, protected)
    if args.report:
        _check_new(Path(args.report), args.overwrite, (".html", ".htm"))
        ensure_not_inside(Path(args.report), protected)
    if args.bone_frame and not args.meshes:
        raise OutputError("--bone-frame needs --meshes DIR (the folder to write the meshes into).")
    ct = imageio.open_volume(args.ct, args.series) if args.ct else None
    labels = imageio.read_label_map(args.labels, reference=ct)
    segment_report = None
    if args.segment_report:
        from kneeseg_app.core.planning.report import load_segment_report

        segment_report = load_segment_report(args.segment_report)
    extra = [imageio.read_label_map(path) for path in args.extra_labels]
    plan = plan_labels(labels, ct, side=args.side, extra_labels=extra)
    outputs: dict[str, object] = {}
    if args.meshes:
        from kneeseg_app.core.planning.export import export_plan_meshes

        written = export_plan_meshes(
            plan,
            labels,
            args.meshes,
            args.mesh_format,
            bone_frame=args.bone_frame,
            protected=protected,
            overwrite=args.overwrite,
        )
        outputs["meshes"] = [str(p) for p in written]
        outputs["mesh_frame"] = "bone" if args.bone_frame else "LPS"
    if args.report:
        from kneeseg_app.core.planning.report import report_html, write_report

        write_report(
            report_html(plan, labels, ct, segment_report, identifiers=args.identifiers),
            args.report,
            protected,
            overwrite=True,
        )
        outputs["report"] = str(args.report)
    write_plan(plan_dict(plan, outputs), out, protected, overwrite=True)
    for knee in plan.knees:
        done = sum(f.ok for b in knee.bones.values() for f in b.findings.values()) + sum(
            f.ok for f in knee.measures.values()
        )
        total = sum(len(b.findings) for b in knee.bones.values()) + len(knee.measures)
        print(f"{knee.side or 'unknown side'} knee: {done} of {total} values found ({knee.side_how})", file=sys.stderr)
    print(f"Plan written to {out} ({plan.seconds:.1f} s)", file=sys.stderr)
    return 0
