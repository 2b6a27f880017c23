"""Find the CT series in a folder as a surgeon gets it (CD export, PACS download, USB stick).

Walks the folder recursively (DICOMDIR or not, with or without ``.dcm``), reads headers
only, groups files into series, sets aside what is not an image volume (scouts,
screenshots, dose reports, SEG, RTSTRUCT, SR, PR) with the reason, and ranks the rest:
axial CT with the most slices first.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from kneeseg_app.core.dicom.classify import SINGLE_SLICE_REASON, is_ct_storage, not_volume_reason
from kneeseg_app.core.dicom.gaps import find_gaps
from kneeseg_app.core.dicom.geometry import (
    duplicate_runs,
    layout_stack,
    plan_grid,
    plane_orientation_code,
    same_orientation,
)
from kneeseg_app.core.dicom.headers import FileKind, SliceHeader, read_header
from kneeseg_app.core.errors import (
    EmptyFolderError,
    InputError,
    KneeSegError,
    NoImageSeriesError,
    NotCTError,
    SingleSliceError,
)
from kneeseg_app.core.identity import PatientIdentity, several_patients_question
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress

_GROUP_SHARED_REASONS = 3
"""Set-aside objects sharing one reason are listed in one line when there are more than this many."""


@dataclass(frozen=True)
class SeriesInfo:
    """One series (or one stack of a series) with what a person needs to choose it."""

    series_uid: str
    study_uid: str
    description: str
    modality: str
    n_slices: int
    slice_thickness_mm: float | None
    convolution_kernel: str
    rows: int
    columns: int
    pixel_spacing_mm: tuple[float, float] | None
    manufacturer: str
    image_type: tuple[str, ...]
    files: tuple[str, ...]
    is_volume: bool
    not_volume_reason: str = ""
    series_number: int | None = None
    orientation: str = ""
    notes: str = ""
    """Geometry seen in the headers that reading will correct (tilt, uneven gaps)."""
    problem: str = ""
    """Why reading will probably refuse it (duplicate positions, mixed sizes, large gap); ranks it lower."""
    unreadable_files: tuple[str, ...] = ()
    """Truncated files that belong to this series (their header still names it)."""
    key: str = ""
    """Unique within a scan: the series UID, with a stack suffix when one series holds several stacks."""
    identity: PatientIdentity = PatientIdentity()
    """Whose scan it is (patient, study, laterality), from the first slice's header."""
    headers: tuple[SliceHeader, ...] = field(default=(), repr=False, compare=False)

    @property
    def label(self) -> str:
        """The description, or the series number when the description is empty."""
        if self.description:
            return self.description
        return f"(series {self.series_number})" if self.series_number is not None else "(no description)"

    def summary(self) -> str:
        """One line for a person: what the series is, or why it is not a volume."""
        if not self.is_volume:
            return f"{self.label} - {self.modality or '?'}, {self.n_slices} file(s): {self.not_volume_reason}"
        what = f"{self.label} - {self.modality or '?'}, {self.n_slices} slice(s)"
        thick = f"{self.slice_thickness_mm:.2f} mm" if self.slice_thickness_mm else "? mm"
        line = f"{what}, {thick}, kernel {self.convolution_kernel or '?'}, {self.columns}x{self.rows}"
        lost = f"{len(self.unreadable_files)} truncated file(s)" if self.unreadable_files else ""
        extra = "; ".join(s for s in (self.notes, self.problem, lost) if s)
        return f"{line} ({extra})" if extra else line


@dataclass
class ScanResult:
    """What a folder holds: image volumes (best first), other objects, files that failed."""

    folder: str
    series: list[SeriesInfo]
    others: list[SeriesInfo]
    unreadable_files: list[str]
    skipped_files: int = 0
    """Files that are not DICOM at all (viewers, PDFs, NIfTI next to the series)."""
    dicom_files: int = 0
    unreadable_reasons: dict[str, str] = field(default_factory=dict)
    """Why each unreadable file could not be used (header-only, truncated, ...), by path."""

    def why_unreadable(self, path: str) -> str:
        """The reason for one unreadable file, in words ('truncated or corrupt' when nothing better is known)."""
        return self.unreadable_reasons.get(path) or "it is truncated or corrupt"

    def best(self) -> SeriesInfo:
        """The series to open, or a typed error saying why the folder holds none."""
        if self.series:
            best = self.series[0]
            if best.modality != "CT":
                raise NotCTError(not_ct_message(best.modality))
            return best
        if not self.dicom_files and not self.unreadable_files:
            raise EmptyFolderError(_empty_message(self))
        if self.others and all(o.not_volume_reason == SINGLE_SLICE_REASON for o in self.others):
            raise SingleSliceError(single_slice_message(self.others[0]))
        if not self.others:
            first = self.unreadable_files[0]
            raise NoImageSeriesError(
                f"None of the {len(self.unreadable_files)} DICOM file(s) in {self.folder} could be read "
                f"(first: {Path(first).name}: {self.why_unreadable(first)})."
            )
        found = "; ".join(sorted({o.not_volume_reason for o in self.others}))
        raise NoImageSeriesError(f"{self.folder} holds no CT image volume, only: {found}.")

    def patients_question(self) -> str:
        """The question to ask before opening when the folder's image series belong to several patients ('' if one)."""
        return several_patients_question(s.identity for s in self.series)

    def find(self, selector: str) -> SeriesInfo:
        """A series by its number in the list (1 = best), its key or its series UID."""
        text = selector.strip()
        if text.isdigit():
            index = int(text)
            if 1 <= index <= len(self.series):
                return self.series[index - 1]
        for info in [*self.series, *self.others]:
            if text in (info.key, info.series_uid):
                return info
        count = len(self.series)
        choices = f"a number from 1 to {count} or " if count else ""
        raise InputError(
            f"There is no series '{text}' in {self.folder}; give {choices}a series UID that 'kneeseg info' lists."
        )


def not_ct_message(modality: str) -> str:
    """The one sentence shown when a series is not CT."""
    return (
        f"This series is {modality or 'of unknown modality'}, not CT; KneeSeg segments bone in CT scans only, "
        "so choose a CT series."
    )


def single_slice_message(info: SeriesInfo) -> str:
    """The one sentence shown when a series has one slice."""
    name = Path(info.files[0]).name if info.files else "?"
    return f"The series '{info.description or name}' has a single slice ({name}); one slice is not a 3D volume."


def set_aside_lines(others: list[SeriesInfo]) -> list[str]:
    """One line per object set aside, except that many objects with one reason share a line.

    A folder of 1,000 single-slice exports reads as one line, not 1,000 identical ones.
    """
    by_reason: dict[str, list[SeriesInfo]] = {}
    for info in others:
        by_reason.setdefault(info.not_volume_reason, []).append(info)
    lines = []
    for reason, members in by_reason.items():
        if len(members) > _GROUP_SHARED_REASONS:
            files = sum(m.n_slices for m in members)
            lines.append(f"{len(members)} series ({files} file(s)): {reason} (first: {members[0].label})")
        else:
            lines.extend(m.summary() for m in members)
    return lines


def _empty_message(result: ScanResult) -> str:
    if result.skipped_files:
        return f"No DICOM files were found in {result.folder} ({result.skipped_files} other file(s) skipped)."
    return f"The folder {result.folder} is empty."


def scan_folder(
    folder: str | os.PathLike[str],
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> ScanResult:
    """Scan ``folder`` recursively, reading DICOM headers only (never pixel data)."""
    root = Path(folder)
    if not root.exists():
        raise EmptyFolderError(f"The folder {root} does not exist.")
    if not root.is_dir():
        raise InputError(f"{root} is a file, not a folder.")
    paths = list_files(root)
    headers: list[SliceHeader] = []
    unreadable: list[str] = []
    broken: list[SliceHeader] = []
    reasons: dict[str, str] = {}
    skipped = dicom_files = 0
    for i, path in enumerate(paths):
        if cancel is not None:
            cancel.raise_if_cancelled()
        result = read_header(path)
        if result.kind is FileKind.DICOM and result.header is not None:
            headers.extend(result.slices)
            dicom_files += 1
        elif result.kind is FileKind.UNREADABLE:
            unreadable.append(path)
            if result.header is not None:
                reasons[path] = result.reason  # our own sentence; parser exceptions stay unnamed
            if result.header is not None and result.header.series_uid:
                broken.append(result.header)
        elif result.kind is FileKind.NOT_DICOM:
            skipped += 1
        if i % 25 == 0 or i == len(paths) - 1:
            progress("Reading DICOM headers", (i + 1) / len(paths))
    candidates, others = group_series(headers, broken)
    return ScanResult(
        folder=str(root),
        series=rank_series(candidates),
        others=others,
        unreadable_files=unreadable,
        skipped_files=skipped,
        dicom_files=dicom_files,
        unreadable_reasons=reasons,
    )


def list_files(root: Path) -> list[str]:
    """Every regular file below ``root`` in a stable order (symbolic links to folders are not followed)."""
    found: list[str] = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        found.extend(os.path.join(folder, n) for n in sorted(names) if os.path.isfile(os.path.join(folder, n)))
    return found


def group_series(
    headers: list[SliceHeader],
    broken: list[SliceHeader] = (),  # type: ignore[assignment]
) -> tuple[list[SeriesInfo], list[SeriesInfo]]:
    """Group headers by series, split stacks of different orientation, sort volumes from the rest.

    ``broken`` are headers of truncated files whose series UID was still readable: the
    series they belong to records them, so reading can decide whether it is complete.
    """
    by_series: dict[str, list[SliceHeader]] = {}
    for h in headers:
        by_series.setdefault(_series_key(h), []).append(h)
    lost: dict[str, list[str]] = {}
    for h in broken:
        lost.setdefault(h.series_uid, []).append(h.path)
    candidates: list[SeriesInfo] = []
    others: list[SeriesInfo] = []
    for key, members in by_series.items():
        stacks = split_stacks(members)
        for index, stack in enumerate(stacks):
            stack_key = key if len(stacks) == 1 else f"{key}#stack{index + 1}"
            info = describe_stack(stack_key, stack, several=len(stacks) > 1)
            if info.is_volume and index == 0 and members[0].series_uid in lost:
                info = replace(info, unreadable_files=tuple(lost[members[0].series_uid]))
            (candidates if info.is_volume else others).append(info)
    return candidates, others


def _series_key(h: SliceHeader) -> str:
    if h.series_uid:
        return h.series_uid
    # Anonymisers sometimes drop the UID: fall back on what a person would group by.
    return f"{os.path.dirname(h.path)}|{h.study_uid}|{h.series_number}|{h.description}|{h.modality}"


def split_stacks(headers: list[SliceHeader]) -> list[list[SliceHeader]]:
    """Split one series into stacks of one plane orientation (scouts or reformats sharing a UID)."""
    stacks: list[list[SliceHeader]] = []
    for h in headers:
        for stack in stacks:
            ref = stack[0].orientation
            if (ref is None and h.orientation is None) or (
                ref is not None and h.orientation is not None and same_orientation(ref, h.orientation)
            ):
                stack.append(h)
                break
        else:
            stacks.append([h])
    return sorted(stacks, key=len, reverse=True)


def describe_stack(key: str, headers: list[SliceHeader], several: bool = False) -> SeriesInfo:
    """Summarise one stack and decide whether it is an image volume."""
    first = headers[0]
    orientation = plane_orientation_code(first.orientation) if first.orientation else ""
    reason = not_volume_reason(headers, orientation)
    notes, problem, ordered = ("", "", headers) if reason else _geometry_findings(headers)
    description = first.description
    if several and orientation:
        description = f"{description} ({orientation} stack)".strip()
    rows, columns = Counter((h.rows, h.columns) for h in headers).most_common(1)[0][0]
    thicknesses = sorted(h.slice_thickness_mm for h in headers if h.slice_thickness_mm)
    if thicknesses and thicknesses[-1] - thicknesses[0] > 0.01 and not reason:
        notes = ", ".join(s for s in (notes, f"thickness {thicknesses[0]:.2f}-{thicknesses[-1]:.2f} mm") if s)
    return SeriesInfo(
        series_uid=first.series_uid,
        study_uid=first.study_uid,
        description=description,
        modality=first.modality or ("CT" if is_ct_storage(first.sop_class_uid) else ""),
        n_slices=len(headers),
        slice_thickness_mm=Counter(thicknesses).most_common(1)[0][0] if thicknesses else None,
        convolution_kernel=first.convolution_kernel,
        rows=rows,
        columns=columns,
        pixel_spacing_mm=first.pixel_spacing,
        manufacturer=first.manufacturer,
        image_type=first.image_type,
        files=tuple(h.path for h in ordered),
        is_volume=not reason,
        not_volume_reason=reason,
        series_number=first.series_number,
        orientation=orientation,
        notes=notes,
        problem=problem,
        key=key,
        identity=first.identity,
        headers=tuple(ordered),
    )


def _geometry_findings(headers: list[SliceHeader]) -> tuple[str, str, list[SliceHeader]]:
    """(notes, problem, headers in slice order) from the header geometry alone."""
    try:
        layout = layout_stack(headers)
    except KneeSegError as exc:
        return "", str(exc), sorted(headers, key=lambda h: (h.instance_number or 0, h.path))
    ordered = [headers[i] for i in layout.order]
    runs = duplicate_runs(layout)
    if runs:
        count = sum(len(r) for r in runs)
        return "", f"{count} slices share {len(runs)} position(s)", ordered
    try:
        plan = plan_grid(layout, headers[0].gantry_tilt_deg)
    except KneeSegError as exc:
        return "", str(exc), ordered
    notes = []
    if layout.is_sheared:
        notes.append(f"gantry tilt {layout.tilt_deg:.1f}°")
    gaps = layout.gaps
    if plan.resample and gaps.max() - gaps.min() > 0.01:
        notes.append(f"uneven gaps {gaps.min():.2f}-{gaps.max():.2f} mm")
    holes = find_gaps(layout, ordered)
    problem = f"slices missing: a {holes[0].width_mm:.1f} mm gap {holes[0].where()}" if holes else ""
    return ", ".join(notes), problem, ordered


def rank_series(series: list[SeriesInfo]) -> list[SeriesInfo]:
    """Best first: CT, axial, readable, most slices, then series number."""
    return sorted(
        series,
        key=lambda s: (
            s.modality != "CT",
            not s.orientation.endswith("axial"),
            bool(s.problem),
            -s.n_slices,
            s.series_number if s.series_number is not None else 1 << 30,
            s.description,
        ),
    )
