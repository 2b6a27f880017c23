"""The checks part of ``kneeseg segment``: input checks before any work, result checks and the JSON report after.

Kept apart from :mod:`.segment` so the command's flow stays readable: each function
here is one step the command calls.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kneeseg_app.core.errors import InputError, OutputError

if TYPE_CHECKING:
    from kneeseg_app.core.checks.outcome import QualityReport
    from kneeseg_app.core.volume import Volume

EXIT_CHECK_FAILED = 3
"""Exit status of ``--strict`` when a result check failed."""

_MARK = {"pass": "ok  ", "warn": "WARN", "fail": "FAIL"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the checks: report, strict, reference label mapping."""
    parser.add_argument(
        "--report",
        metavar="FILE.json",
        help="also write a JSON report: input, model, settings, volumes, timings and every check (docs/segment-report.md)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit with status 3 when a quality check fails (warnings keep 0); meshes and DICOM SEG of a failing "
        "result are then not written (the label map and the report are, for inspection)",
    )
    parser.add_argument(
        "--reference-labels",
        metavar="MAP",
        help="which reference label is which model label, e.g. 3=1,4=2 (reference 3 is femur, 4 tibia); "
        "other reference labels count as background",
    )


def label_mapping(args: argparse.Namespace) -> dict[int, int] | None:
    """The parsed ``--reference-labels`` (refused without ``--reference``)."""
    from kneeseg_app.core.checks.input import parse_label_mapping

    if not args.reference_labels:
        return None
    if not args.reference:
        raise InputError("--reference-labels needs --reference (the label map whose labels it renames).")
    return parse_label_mapping(args.reference_labels)


def check_report_path(args: argparse.Namespace) -> None:
    """Refuse a report path that cannot be used, before any work."""
    from kneeseg_app.core.atomic import ensure_not_inside

    if not args.report:
        return
    report = Path(args.report)
    if report.suffix.lower() != ".json":
        raise OutputError(f"{report.name}: choose a .json file name for the report.")
    if report.exists() and not args.overwrite:
        raise OutputError(f"{report} already exists; choose another name or add --overwrite.")
    ensure_not_inside(report, [args.input])


def format_checks(report: QualityReport) -> str:
    """The checks as lines under the volumes: verdict first, then one line per check."""
    from kneeseg_app.core.checks.outcome import slice_ranges
    from kneeseg_app.core.checks.result import summary_line

    lines = [f"checks   {summary_line(report)}"]
    for check in report.checks:
        where = f" (slices {slice_ranges(check.slices)})" if check.slices and check.status.value != "pass" else ""
        lines.append(f"  {_MARK[check.status.value]} {check.title:<20} {check.message}{where}")
    return "\n".join(lines)


def run_input_checks(ct: Volume, args: argparse.Namespace) -> None:
    """Refuse (exit 2) an input that is not a knee CT, before the network runs."""
    from kneeseg_app.core.checks.input import check_input

    check_input(ct, Path(args.input).name or str(args.input))


def reference_in_model_labels(reference: Volume, label_names: dict[int, str], mapping: dict[int, int] | None) -> Volume:
    """The reference renumbered to the model's labels (or refused, exit 2)."""
    from kneeseg_app.core.checks.input import match_reference_labels

    return match_reference_labels(reference, label_names, mapping)


def write_json_report(args: argparse.Namespace, data: Any) -> Path | None:
    """Write ``--report`` (a :class:`~kneeseg_app.core.checks.report.ReportData`) if asked for."""
    from kneeseg_app.core.checks.report import report_dict, write_report

    if not args.report:
        return None
    return write_report(args.report, report_dict(data), overwrite=args.overwrite, protected=[args.input])


def exit_status(report: QualityReport, strict: bool) -> int:
    """0, or :data:`EXIT_CHECK_FAILED` for a failed check under ``--strict``."""
    return EXIT_CHECK_FAILED if strict and report.status.value == "fail" else 0


def report_data(
    args: argparse.Namespace,
    ct: Volume,
    package: Any,
    result: Any,
    quality: QualityReport,
    outputs: dict[str, Any],
    timings: dict[str, float],
    metrics: dict[str, Any] | None,
    mapping: dict[int, int] | None,
    sides: Any = None,
) -> Any:
    """Gather one run's facts for :func:`write_json_report` (``sides``: the result's SideSplit)."""
    from kneeseg_app.core.checks.report import ModelFacts, ReportData

    reference = None
    if args.reference:
        reference = {
            "path": str(Path(args.reference).resolve()),
            "label_mapping": {str(k): v for k, v in mapping.items()} if mapping else None,
        }
    return ReportData(
        input_path=str(args.input),
        ct=ct,
        model=ModelFacts.of(package),
        settings=dict(result.settings),
        volumes_ml=dict(result.volumes_ml),
        removed_voxels=dict(result.removed_voxels),
        timings_s=timings,
        stage_seconds=dict(result.stage_seconds),
        quality=quality,
        outputs=outputs,
        reference=reference,
        metrics={bone: m.as_dict() for bone, m in metrics.items()} if metrics else None,
        sides=sides.as_dict() if sides is not None else None,
    )
