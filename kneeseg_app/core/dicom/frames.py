"""Enhanced (multi-frame) CT: one file, one header per frame, frames decoded once per file.

Current Siemens, Philips and Canon scanners write a whole series as one Enhanced CT
object whose geometry lives in functional groups: each frame's position (and, where it
differs, orientation, pixel measures and rescale) in the per-frame groups, the rest in
the shared groups. Expanding a file into one :class:`SliceHeader` per frame lets the
classic path (sorting along the normal, duplicates, the gap rule, tilt) check it the
same way. Pixels are stored values; the frame's own rescale turns them into HU here.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import SimpleITK as sitk

from kneeseg_app.core.dicom.headers import SliceHeader
from kneeseg_app.core.dicom.pixels import UNCOMPRESSED_SYNTAXES, check_before_decoding, fits_int16
from kneeseg_app.core.errors import UnreadableFileError

FUNCTIONAL_GROUP_TAGS = ["SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"]


def frame_headers(header: SliceHeader, ds: Any) -> list[SliceHeader]:
    """One header per frame of a multi-frame file with functional groups; [] when it has none."""
    if header.number_of_frames < 2:
        return []
    per_frame = _items(ds, "PerFrameFunctionalGroupsSequence")
    if len(per_frame) != header.number_of_frames:
        return []
    shared = (_items(ds, "SharedFunctionalGroupsSequence") or [None])[0]
    frames = []
    for k, group in enumerate(per_frame):
        spacing = _macro(group, shared, "PixelMeasuresSequence", "PixelSpacing", 2)
        thickness = _macro(group, shared, "PixelMeasuresSequence", "SliceThickness", 1)
        slope = _macro(group, shared, "PixelValueTransformationSequence", "RescaleSlope", 1)
        intercept = _macro(group, shared, "PixelValueTransformationSequence", "RescaleIntercept", 1)
        frames.append(
            replace(
                header,
                frame=k,
                instance_number=k + 1,
                position=_macro(group, shared, "PlanePositionSequence", "ImagePositionPatient", 3),  # type: ignore[arg-type]
                orientation=_macro(group, shared, "PlaneOrientationSequence", "ImageOrientationPatient", 6),  # type: ignore[arg-type]
                pixel_spacing=spacing if spacing is not None else header.pixel_spacing,  # type: ignore[arg-type]
                slice_thickness_mm=thickness[0] if thickness else header.slice_thickness_mm,
                rescale=(slope[0] if slope else 1.0, intercept[0] if intercept else 0.0),
            )
        )
    return frames


def decode_frames(headers: list[SliceHeader]) -> list[np.ndarray]:
    """HU of the given frames of one multi-frame file, in the order given.

    Uncompressed pixels are read by pydicom after the length check; compressed ones by
    GDCM (every syntax it knows) from a copy without rescale tags (GDCM would apply the
    first frame's rescale to every frame), else by pydicom's decoders.
    """
    first = headers[0]
    check_before_decoding(first)
    if first.samples_per_pixel > 1:
        raise UnreadableFileError(f"The file {Path(first.path).name} is a colour image, not a CT series.")
    stored = _stored_frames(first)
    if stored.shape[0] != first.number_of_frames or stored.shape[1:] != (first.rows, first.columns):
        raise UnreadableFileError(
            f"The file {Path(first.path).name} decodes to {stored.shape} pixels where its header announces "
            f"{first.number_of_frames} frames of {first.columns}x{first.rows}."
        )
    out = []
    for header in headers:
        slope, intercept = header.rescale or (1.0, 0.0)
        hu = stored[header.frame].astype(np.float64) * slope + intercept  # type: ignore[index]
        out.append(hu.astype(np.int16) if fits_int16(hu) else hu.astype(np.float32))
    return out


def _stored_frames(header: SliceHeader) -> np.ndarray:
    name = Path(header.path).name
    try:
        ds = pydicom.dcmread(header.path, force=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt file makes pydicom raise anything
        raise UnreadableFileError(f"The file {name} cannot be read (truncated or corrupt).") from exc
    if header.transfer_syntax in UNCOMPRESSED_SYNTAXES:
        return _pydicom_frames(ds, name)
    try:
        return _gdcm_frames(ds)
    except RuntimeError:
        return _pydicom_frames(ds, name)


def _pydicom_frames(ds: Any, name: str) -> np.ndarray:
    try:
        pixels = np.asarray(ds.pixel_array)
    except Exception as exc:  # noqa: BLE001 - missing decoder plugins and corrupt streams raise many types
        raise UnreadableFileError(
            f"The file {name} cannot be decoded (truncated, corrupt or an unsupported compression)."
        ) from exc
    return pixels if pixels.ndim == 3 else pixels[None]


def _gdcm_frames(ds: Any) -> np.ndarray:
    """Stored values decoded by GDCM: a copy without rescale tags, written outside the input folder."""
    for group in [*_items(ds, "SharedFunctionalGroupsSequence"), *_items(ds, "PerFrameFunctionalGroupsSequence")]:
        if "PixelValueTransformationSequence" in group:
            del group.PixelValueTransformationSequence
    for keyword in ("RescaleSlope", "RescaleIntercept"):
        if keyword in ds:
            delattr(ds, keyword)
    with tempfile.TemporaryDirectory(prefix="kneeseg-frames-") as folder:
        copy = os.path.join(folder, "frames.dcm")
        ds.save_as(copy, enforce_file_format=False)
        reader = sitk.ImageFileReader()
        reader.SetImageIO("GDCMImageIO")
        reader.SetFileName(copy)
        image = reader.Execute()
    pixels = sitk.GetArrayFromImage(image)
    return pixels if pixels.ndim == 3 else pixels[None]


def _items(ds: Any, keyword: str) -> list[Any]:
    try:
        value = ds.get(keyword)
    except Exception:  # noqa: BLE001 - a malformed sequence is treated as absent
        return []
    return list(value) if value else []


def _macro(group: Any, shared: Any, sequence: str, keyword: str, count: int) -> tuple[float, ...] | None:
    """A value from a functional group macro: the frame's own, else the shared one."""
    for source in (group, shared):
        items = _items(source, sequence) if source is not None else []
        if not items:
            continue
        value = items[0].get(keyword)
        if value is None or value == "":
            continue
        values = list(value) if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue" else [value]
        try:
            floats = tuple(float(v) for v in values)
        except (TypeError, ValueError):
            return None
        return floats if len(floats) == count else None
    return None
