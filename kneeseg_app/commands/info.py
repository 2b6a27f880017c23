"""``kneeseg info PATH``: which series a folder holds, which one KneeSeg would use, and how it reads.

Lets a person check a CD export before segmenting: the candidate series (best marked),
what was set aside and why, then the chosen volume with any geometry warning.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from kneeseg_app.core.dicom import ScanResult, SeriesInfo, read_series, scan_folder
from kneeseg_app.core.dicom.scan import set_aside_lines
from kneeseg_app.core.imageio import open_volume

_COLUMNS = ("#", "description", "modality", "slices", "thickness", "kernel", "size", "notes")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "info",
        help="list the series of a DICOM folder and describe the CT volume KneeSeg would use",
        description="List the image series of a DICOM folder (best first), the objects that are not volumes, "
        "and describe the chosen volume. PATH may also be a DICOM, NIfTI, NRRD or MHA file.",
    )
    parser.add_argument("path", metavar="PATH", help="DICOM folder (searched recursively) or image file")
    parser.add_argument("--series", metavar="UID_OR_INDEX", help="use this series (number in the list, or its UID)")
    parser.add_argument("--all", action="store_true", help="read and describe every candidate series")
    parser.add_argument(
        "--allow-gaps",
        action="store_true",
        help="fill slices missing inside a series by interpolation instead of refusing",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.is_dir():
        print(open_volume(path, allow_gaps=args.allow_gaps).describe())
        return 0
    scan = scan_folder(path)
    print(format_scan(scan))
    chosen = [scan.find(args.series)] if args.series else scan.series if args.all else [scan.best()]
    for info in chosen:
        print()
        print(f"Series {_index_of(scan, info)}: {info.label}")
        print(read_series(info, allow_gaps=args.allow_gaps).describe())
    return 0


def format_scan(scan: ScanResult) -> str:
    """The candidate table (best marked with '*'), the set-aside objects and the unreadable files."""
    lines = [
        f"{scan.folder}: {scan.dicom_files} DICOM file(s), {len(scan.series)} image series"
        + (f", {scan.skipped_files} other file(s) skipped" if scan.skipped_files else "")
    ]
    if scan.series:
        rows = [_row(i + 1, s) for i, s in enumerate(scan.series)]
        widths = [max(len(r[c]) for r in [_COLUMNS, *rows]) for c in range(len(_COLUMNS))]
        lines.append("  " + "  ".join(h.ljust(w) for h, w in zip(_COLUMNS, widths)).rstrip())
        for i, row in enumerate(rows):
            mark = "*" if i == 0 and scan.series[0].modality == "CT" else " "
            lines.append(f"{mark} " + "  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip())
        if scan.series[0].modality == "CT":
            lines.append("  (* = used unless --series says otherwise)")
    if scan.others:
        lines.append("Not image volumes:")
        lines += [f"  - {line}" for line in set_aside_lines(scan.others)]
    if scan.unreadable_files:
        names = ", ".join(Path(p).name for p in scan.unreadable_files[:3])
        more = ", ..." if len(scan.unreadable_files) > 3 else ""
        lines.append(f"Unreadable files: {len(scan.unreadable_files)} ({names}{more})")
    return "\n".join(lines)


def _row(index: int, s: SeriesInfo) -> tuple[str, ...]:
    thickness = f"{s.slice_thickness_mm:.2f} mm" if s.slice_thickness_mm else "?"
    notes = "; ".join(n for n in (s.notes, s.problem) if n)
    return (
        str(index),
        s.label,
        s.modality or "?",
        str(s.n_slices),
        thickness,
        s.convolution_kernel or "?",
        f"{s.columns}x{s.rows}",
        notes,
    )


def _index_of(scan: ScanResult, info: SeriesInfo) -> str:
    for i, s in enumerate(scan.series):
        if s is info:
            return str(i + 1)
    return info.key
