"""Read one chosen DICOM series into a :class:`Volume` in HU with checked geometry.

Pixels are decoded by dicom.pixels (SimpleITK/GDCM one file at a time, every transfer
syntax GDCM knows, each file's pixel data length checked first; the frames of an
Enhanced CT file once per file). Geometry never comes from the reader's guess: it is computed from each
slice's ImagePositionPatient/ImageOrientationPatient (dicom_geometry), and the volume
is resampled, with a warning, when the slices are not a regular stack. Slices that
cannot be read are set aside, and the one gap rule (dicom.gaps) decides, the same way
whatever the cause, whether what is left may be read.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from kneeseg_app.core.dicom.gaps import filled, filled_warning, find_gaps, require_no_gaps
from kneeseg_app.core.dicom.geometry import (
    StackLayout,
    duplicate_runs,
    grid_geometry,
    layout_stack,
    plan_grid,
    resample_stack,
)
from kneeseg_app.core.dicom.headers import FileKind, SliceHeader, read_header
from kneeseg_app.core.dicom.pixels import read_pixels
from kneeseg_app.core.dicom.scan import SINGLE_SLICE_REASON, SeriesInfo, not_ct_message, single_slice_message
from kneeseg_app.core.errors import (
    DuplicateSlicesError,
    NoImageSeriesError,
    NotCTError,
    SingleSliceError,
    UnreadableFileError,
)
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress, scaled
from kneeseg_app.core.volume import DicomFacts, FilledGap, Volume


def read_series(
    series: SeriesInfo,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    allow_gaps: bool = False,
) -> Volume:
    """Read ``series`` as HU on a correct regular grid, or raise a typed error saying why not.

    A gap wider than 1.5 nominal slice steps (a missing file, undecodable pixels or a
    header cut short) raises SliceGapError unless ``allow_gaps``: then it is filled by
    interpolation, said in the warnings and listed in ``volume.dicom.filled_gaps``.
    """
    _require_ct_volume(series)
    headers = list(series.headers) or _headers_of(series.files)
    layout = layout_stack(headers)
    ordered = [headers[i] for i in layout.order]
    if len(ordered) < 2:
        raise SingleSliceError(single_slice_message(series))
    slices, failed = read_pixels(ordered, scaled(progress, 0.0, 0.8), cancel)
    lost = _lost_depths(layout, ordered, failed, series.unreadable_files)
    ordered, slices, skipped = _drop_unreadable(ordered, slices, failed, series.unreadable_files)
    warnings: list[str] = []
    ordered, slices = _drop_duplicates(ordered, slices, warnings)
    if len(ordered) < 2:
        raise SingleSliceError(single_slice_message(series))
    layout = layout_stack(ordered)  # already sorted: order is the identity
    gaps = find_gaps(layout, ordered, lost)
    if not allow_gaps:
        require_no_gaps(gaps, layout.n_slices)
    plan = plan_grid(layout, ordered[0].gantry_tilt_deg)
    records = filled(gaps, layout, plan.step_mm, plan.n_planes) if gaps else ()
    warnings = list(plan.warnings) + _skipped_warning(skipped, bool(gaps)) + warnings
    if records:
        warnings.append(filled_warning(records))
    if plan.resample:
        slices = resample_stack(slices, layout, plan, float(slices.min()), scaled(progress, 0.8, 1.0), cancel)
    origin, spacing, direction = grid_geometry(layout, plan)
    progress("Volume ready", 1.0)
    return Volume(
        array=slices,
        spacing_zyx=spacing,
        origin_xyz=origin,
        direction=direction,
        dicom=_facts(series, ordered, records, resampled=plan.resample or bool(records)),
        source=_source_folder(ordered),
        warnings=warnings,
    )


def _source_folder(ordered: list[SliceHeader]) -> str:
    files = list(dict.fromkeys(h.path for h in ordered))
    return os.path.commonpath(files) if len(files) > 1 else str(Path(files[0]).parent)


def _require_ct_volume(series: SeriesInfo) -> None:
    if not series.is_volume:
        if series.not_volume_reason == SINGLE_SLICE_REASON:
            raise SingleSliceError(single_slice_message(series))
        raise NoImageSeriesError(f"The series '{series.label}' cannot be read as a volume: {series.not_volume_reason}.")
    if series.modality != "CT":
        raise NotCTError(not_ct_message(series.modality))


def _headers_of(files: tuple[str, ...]) -> list[SliceHeader]:
    headers = []
    for path in files:
        result = read_header(path)
        if result.kind is not FileKind.DICOM or result.header is None:
            raise UnreadableFileError(
                f"The file {Path(path).name} is not a readable DICOM image ({result.kind.value})."
            )
        headers.extend(result.slices)
    return headers


def _lost_depths(
    layout: StackLayout, ordered: list[SliceHeader], failed: dict[int, str], lost_at_scan: tuple[str, ...]
) -> dict[float, str]:
    """Where unreadable slices would have been: {depth along the normal (mm, absolute): file name}."""
    normal = layout.axes[:, 2]
    lost = {float(np.asarray(ordered[k].position) @ normal): Path(ordered[k].path).name for k in failed}
    for path in lost_at_scan:
        header = read_header(path).header
        if header is not None and header.position is not None:
            lost[float(np.asarray(header.position) @ normal)] = Path(path).name
    return lost


def _drop_unreadable(
    ordered: list[SliceHeader], slices: np.ndarray, failed: dict[int, str], lost_at_scan: tuple[str, ...]
) -> tuple[list[SliceHeader], np.ndarray, list[str]]:
    """Set broken slices aside (the gap rule then judges the rest); returns the names skipped."""
    if not failed and not lost_at_scan:
        return ordered, slices, []
    keep = [k for k in range(len(ordered)) if k not in failed]
    if not keep:
        raise UnreadableFileError(f"No slice of this series could be decoded. {next(iter(failed.values()))}")
    names = list(
        dict.fromkeys([Path(ordered[k].path).name for k in sorted(failed)] + [Path(p).name for p in lost_at_scan])
    )
    why = [next(iter(failed.values()))] if failed else []
    return [ordered[k] for k in keep], slices[keep], names + why


def _skipped_warning(skipped: list[str], gaps: bool) -> list[str]:
    """``skipped``: file names, then (if known) the first reason, a sentence."""
    names = [s for s in skipped if not s.endswith(".")]
    if not names:
        return []
    why = "".join(f" {s}" for s in skipped if s.endswith("."))
    outcome = "the gap they leave was filled as asked" if gaps else "the remaining slices form a complete series"
    listed = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
    return [f"Skipped {len(names)} unreadable file(s) ({listed}); {outcome}.{why}"]


def _drop_duplicates(
    ordered: list[SliceHeader], slices: np.ndarray, warnings: list[str]
) -> tuple[list[SliceHeader], np.ndarray]:
    """Identical copies of a slice are dropped (warning); different images at one position are refused."""
    runs = duplicate_runs(layout_stack(ordered))
    if not runs:
        return ordered, slices
    drop: set[int] = set()
    for run in runs:
        for k in run[1:]:
            if not np.array_equal(slices[run[0]], slices[k]):
                raise DuplicateSlicesError(
                    f"{len(run)} slices lie at the same position ({Path(ordered[run[0]].path).name}, "
                    f"{Path(ordered[k].path).name}) but show different images, so this series is not one volume "
                    "(several phases or acquisitions?); choose or export a single reconstruction."
                )
            drop.add(k)
    warnings.append(f"Removed {len(drop)} duplicate slice(s): identical images at the same position.")
    keep = [k for k in range(len(ordered)) if k not in drop]
    return [ordered[k] for k in keep], slices[keep]


def _facts(
    series: SeriesInfo, ordered: list[SliceHeader], filled_gaps: tuple[FilledGap, ...] = (), resampled: bool = False
) -> DicomFacts:
    first = ordered[0]
    return DicomFacts(
        modality=series.modality,
        series_description=series.description,
        slice_thickness_mm=series.slice_thickness_mm,
        convolution_kernel=series.convolution_kernel,
        manufacturer=series.manufacturer,
        patient_position=first.patient_position,
        series_instance_uid=series.series_uid,
        study_instance_uid=series.study_uid,
        files=tuple(dict.fromkeys(h.path for h in ordered)),  # an Enhanced CT file once, not once per frame
        body_part=first.body_part,
        identity=first.identity,
        filled_gaps=filled_gaps,
        resampled=resampled,
    )
