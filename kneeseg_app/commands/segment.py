"""``kneeseg segment``: segment femur and tibia in one CT from the command line.

Checks everything that can be checked (output name, model, reference) before the
long work starts, so a typo costs seconds, not minutes. The engine and the readers
are imported when the command runs, which keeps ``kneeseg --help`` instant.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import IO, Any

from kneeseg_app.commands import segment_checks, segment_sides
from kneeseg_app.core.errors import OutputError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "segment",
        help="segment femur and tibia in a knee CT",
        description="Segment femur and tibia in a knee CT and write the label map "
        "(0 background, 1 femur, 2 tibia) on the CT's own grid. Research software, not for clinical use.",
    )
    parser.add_argument(
        "input", metavar="INPUT", help="a CT folder (DICOM) or an image file (.nii.gz, .nrrd, .mha, .dcm)"
    )
    parser.add_argument(
        "--out", "-o", required=True, metavar="OUTPUT", help="label map to write (.nii.gz, .nii, .nrrd or .mha)"
    )
    parser.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="model name (see 'kneeseg models') or package folder; default: the bundled default",
    )
    parser.add_argument(
        "--series", metavar="UID_OR_INDEX", help="which series of a DICOM folder (UID, or its number in 'kneeseg info')"
    )
    parser.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="test-time mirroring: slower, slightly more accurate (default: as the model says)",
    )
    parser.add_argument(
        "--exact",
        action="store_true",
        help="nnU-Net's own result: its settings, no speed options, no post-processing (slower; for comparisons)",
    )
    parser.add_argument(
        "--threads", type=int, metavar="N", help="CPU threads for the network (default: physical cores, at most 4)"
    )
    parser.add_argument(
        "--reference", metavar="LABELS", help="a reference label map on the same grid: print Dice, HD95, ... against it"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace OUTPUT (and existing meshes / SEG) if they exist"
    )
    parser.add_argument(
        "--meshes",
        metavar="DIR",
        help="also write one closed, smoothed surface per bone (LPS mm, as 3D Slicer) into DIR",
    )
    parser.add_argument(
        "--mesh-format", choices=("stl", "obj", "ply"), default="stl", help="mesh file format (default: binary STL)"
    )
    parser.add_argument(
        "--seg", metavar="FILE", help="also write a DICOM SEG referencing the source series (DICOM input only)"
    )
    parser.add_argument(
        "--allow-gaps",
        action="store_true",
        help="fill slices missing inside the series by interpolation (recorded) instead of refusing the series",
    )
    segment_checks.add_arguments(parser)
    segment_sides.add_arguments(parser)
    parser.set_defaults(func=run)


class ProgressLine:
    """Progress on a terminal: one redrawn bar line; elsewhere (logs, pipes) one line per stage."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.interactive = bool(getattr(stream, "isatty", lambda: False)())
        self._stage = ""
        self._last_draw = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        if stage != self._stage:
            if self.interactive and self._stage:
                self._draw(self._stage, 1.0 if stage == "Done" else fraction, force=True)
                self.stream.write("\n")
            self._stage = stage
            if not self.interactive and stage != "Done":
                self.stream.write(f"{stage}...\n")
                self.stream.flush()
        if self.interactive and stage != "Done":
            self._draw(stage, fraction)

    def _draw(self, stage: str, fraction: float, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        filled = int(round(30 * min(max(fraction, 0.0), 1.0)))
        self.stream.write(f"\r{stage:<16} [{'#' * filled}{'.' * (30 - filled)}] {fraction * 100:5.1f}%")
        self.stream.flush()

    def finish(self) -> None:
        if self.interactive and self._stage and self._stage != "Done":
            self.stream.write("\n")
        self._stage = ""


def _check_output(out: Path, overwrite: bool, protected: list[str]) -> None:
    from kneeseg_app.core.imageio import LABEL_SUFFIXES
    from kneeseg_app.core.protection import refuse_input_folders

    if not any(out.name.lower().endswith(s) for s in LABEL_SUFFIXES):
        raise OutputError(f"{out.name}: choose a .nii.gz, .nii, .nrrd or .mha file name for the label map.")
    if out.exists() and not overwrite:
        raise OutputError(f"{out} already exists; choose another name or add --overwrite.")
    refuse_input_folders(out, protected)


def _check_all_outputs(args: argparse.Namespace, bone_names: list[str]) -> None:
    """Every requested output (--out, --meshes, --seg, --report) checked before any work: nothing is written
    when one of them would fail after minutes of segmentation."""
    from kneeseg_app.core.atomic import PlannedOutput, check_outputs

    planned = [PlannedOutput(Path(args.out), "the label map")]
    if args.meshes:
        prefix = segment_sides.prefix_of(segment_sides.identity_hint(args.input), args)
        names = segment_sides.mesh_file_names(bone_names, args.mesh_format, prefix)
        planned.append(PlannedOutput(Path(args.meshes), "the bone surfaces", files=names))
    if args.seg:
        planned.append(PlannedOutput(Path(args.seg), "the DICOM SEG"))
    if getattr(args, "report", None):
        planned.append(PlannedOutput(Path(args.report), "the report"))
    check_outputs(planned, [args.input], overwrite=args.overwrite)


def metrics_table(metrics: dict[str, Any]) -> str:
    """A small fixed-width table of agreement metrics, one row per bone."""
    header = f"{'bone':<12}{'Dice':>7}{'Jaccard':>9}{'HD mm':>8}{'HD95 mm':>9}{'ASSD mm':>9}{'pred mL':>9}{'ref mL':>9}{'diff mL':>9}"
    rows = [header]
    for bone, m in metrics.items():
        rows.append(
            f"{bone:<12}{m.dice:>7.3f}{m.jaccard:>9.3f}{m.hausdorff_mm:>8.2f}{m.hd95_mm:>9.2f}{m.assd_mm:>9.2f}"
            f"{m.volume_pred_ml:>9.1f}{m.volume_ref_ml:>9.1f}{m.volume_diff_ml:>+9.1f}"
        )
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    from kneeseg_app.core import imageio
    from kneeseg_app.core.checks import check_result
    from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
    from kneeseg_app.core.model.discovery import find_model

    started = time.perf_counter()
    out = Path(args.out)
    _check_output(out, args.overwrite, [args.input])
    segment_checks.check_report_path(args)
    mapping = segment_checks.label_mapping(args)
    package = find_model(args.model)
    _check_all_outputs(args, list(package.label_names.values()))
    options = SegmentOptions(tta=args.tta, threads=args.threads, exact=args.exact, postprocess=not args.exact)
    segmenter = Segmenter(package, options)
    progress = ProgressLine(sys.stderr)

    ct = imageio.open_volume(
        args.input, args.series, progress=lambda s, f: progress("Reading CT", f), allow_gaps=args.allow_gaps
    )
    progress.finish()
    for warning in ct.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    reference = imageio.read_label_map(args.reference, reference=ct) if args.reference else None
    if reference is not None:
        reference = segment_checks.reference_in_model_labels(reference, package.label_names, mapping)
    if args.seg:
        from kneeseg_app.core.dicom.seg import dicom_seg_problem

        problem = dicom_seg_problem(ct)
        if problem:
            raise OutputError(problem)
    segment_checks.run_input_checks(ct, args)
    segment_sides.check_mesh_names(args, list(package.label_names.values()), ct)
    read_seconds = time.perf_counter() - started

    result = segmenter.run(ct, progress=progress)
    progress.finish()
    sides = segment_sides.split(result, ct, package.label_names)
    quality = check_result(
        ct, result.labels, package.label_names, result.top_probability, result.no_knee, sides=sides
    )  # the checks name the legs as the report does ('Knee: right')
    written = imageio.write_label_map(result.labels, out, overwrite=args.overwrite, protected=[args.input])

    print(
        f"model    {package.name} {package.manifest.version}"
        + ("  (NOT FOR CLINICAL USE)" if package.not_for_clinical_use else "")
    )
    print("\n".join(segment_sides.volume_lines(sides)))
    print(segment_checks.format_checks(quality))
    print(
        f"time     {result.seconds:.1f} s (network {result.stage_seconds.get('network', 0.0):.1f} s, TTA {'on' if result.settings['tta'] else 'off'})"
    )
    print(f"written  {written}")
    status = segment_checks.exit_status(quality, args.strict)
    outputs = _write_extras(args, result, ct, package, blocked=status != 0, sides=sides)
    metrics = None
    if reference is not None:
        metrics = segment_sides.metrics(result, reference, package.label_names)
        print()
        print(metrics_table(metrics))
    timings = {
        "read": read_seconds,
        "segment": result.seconds,
        "checks": quality.seconds,
        "total": time.perf_counter() - started,
    }
    report = segment_checks.write_json_report(
        args,
        segment_checks.report_data(
            args, ct, package, result, quality, {"labels": str(written), **outputs}, timings, metrics, mapping, sides
        ),
    )
    if report is not None:
        print(f"report   {report}")
    return status


def _write_extras(
    args: argparse.Namespace, result: Any, ct: Any, package: Any, blocked: bool, sides: Any
) -> dict[str, Any]:
    """Meshes and DICOM SEG, unless ``--strict`` blocks them for a failing result."""
    outputs: dict[str, Any] = {"meshes": [], "seg": None}
    if blocked and (args.meshes or args.seg):
        print("not written: meshes / DICOM SEG of a result that failed its checks (--strict)", file=sys.stderr)
        return outputs
    if args.meshes:
        meshes = segment_sides.write_meshes(args, result, ct, sides)
        for path in meshes:
            print(f"mesh     {path}")
            outputs["meshes"].append(str(path))
    if args.seg:
        from kneeseg_app.core.dicom.seg import write_dicom_seg

        seg = write_dicom_seg(
            result.labels,
            ct,
            args.seg,
            algorithm_name=f"KneeSeg {package.name}",
            algorithm_version=package.manifest.version,
            overwrite=args.overwrite,
            protected=[args.input],
        )
        print(f"DICOM SEG {seg}")
        outputs["seg"] = str(seg)
    return outputs
