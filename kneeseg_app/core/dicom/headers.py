"""Read the few DICOM header fields KneeSeg needs from one file, never its pixels.

A surgeon's CD holds thousands of slices plus viewers, PDFs and DICOMDIRs; scanning
must stay fast, so every file is sniffed (132 bytes) before pydicom parses its
header with ``stop_before_pixels`` and a short tag list. The Pixel Data element's
length is read from its element header (never its value), and an Enhanced CT file is
expanded into one header per frame (dicom.frames).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

import pydicom
from pydicom.errors import InvalidDicomError

from kneeseg_app.core.dicom.elements import ends_cleanly, pixel_element
from kneeseg_app.core.identity import PatientIdentity

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"  # the DICOMDIR itself

IDENTITY_TAGS = [
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "StudyDate",
    "StudyDescription",
    "AccessionNumber",
    "Laterality",
    "ImageLaterality",
]
"""Whose scan it is (core.identity): shown in the series chooser, the case panel and the title."""

HEADER_TAGS = [
    "SOPClassUID",
    "Modality",
    "SeriesInstanceUID",
    "StudyInstanceUID",
    "SeriesDescription",
    "SeriesNumber",
    "InstanceNumber",
    "ImageType",
    "ImagePositionPatient",
    "ImageOrientationPatient",
    "PixelSpacing",
    "Rows",
    "Columns",
    "SliceThickness",
    "ConvolutionKernel",
    "Manufacturer",
    "PatientPosition",
    "GantryDetectorTilt",
    "NumberOfFrames",
    "BitsAllocated",
    "SamplesPerPixel",
    "SharedFunctionalGroupsSequence",
    "PerFrameFunctionalGroupsSequence",
    0x07A10010,  # private creator of the ELSCINT1 block
    0x07A11011,  # ELSCINT1 Tamar Compression Type: PMSCT_RLE1 / PMSCT_RGB1
    "BodyPartExamined",
    *IDENTITY_TAGS,
]

_PIXEL_TAGS = (
    b"\xe0\x7f\x10\x00",  # Pixel Data, little endian
    b"\xe0\x7f\x08\x00",  # Float Pixel Data
    b"\xe0\x7f\x09\x00",  # Double Float Pixel Data
    b"\x7f\xe0\x00\x10",  # Pixel Data, big endian (retired syntax)
)
_DEFLATED = "1.2.840.10008.1.2.1.99"  # the file position says nothing about a deflated dataset


_STORAGE_ROOT = "1.2.840.10008.5.1.4.1.1."
_NON_PIXEL_STORAGE = ("88.", "481.3", "481.5", "481.8", "11.", "104.", "66", "9.", "78.", "79.", "80.", "81.", "82.")
"""SR, RT structure set/plan, presentation states, encapsulated documents, raw/registration, waveforms, ophthalmic
measurement objects: storage classes that carry no pixel data (SEG, 66.4, is re-admitted below)."""


def is_pixel_sop_class(sop_class_uid: str) -> bool:
    """True for storage SOP classes whose instances must carry pixel data (CT, MR, SC, SEG, ...)."""
    if not sop_class_uid.startswith(_STORAGE_ROOT):
        return False
    rest = sop_class_uid[len(_STORAGE_ROOT) :]
    if rest == "66.4":
        return True
    return not rest.startswith(_NON_PIXEL_STORAGE)


class FileKind(Enum):
    """What sniffing and parsing made of a file."""

    DICOM = "dicom"
    NOT_DICOM = "not DICOM"
    UNREADABLE = "unreadable DICOM"
    DIRECTORY_RECORD = "DICOMDIR"


@dataclass(frozen=True)
class SliceHeader:
    """Header facts of one DICOM file (one slice for classic CT)."""

    path: str
    sop_class_uid: str = ""
    modality: str = ""
    series_uid: str = ""
    study_uid: str = ""
    description: str = ""
    series_number: int | None = None
    instance_number: int | None = None
    image_type: tuple[str, ...] = ()
    position: tuple[float, float, float] | None = None
    orientation: tuple[float, float, float, float, float, float] | None = None
    pixel_spacing: tuple[float, float] | None = None
    """DICOM order: (spacing between rows, spacing between columns) in mm."""
    rows: int = 0
    columns: int = 0
    slice_thickness_mm: float | None = None
    convolution_kernel: str = ""
    manufacturer: str = ""
    patient_position: str = ""
    gantry_tilt_deg: float | None = None
    number_of_frames: int = 1
    has_pixel_data: bool = False
    transfer_syntax: str = ""
    bits_allocated: int = 0
    samples_per_pixel: int = 1
    pixel_data_length: int | None = None
    """Declared length of the Pixel Data value (bytes); None when undefined (compressed) or unknown (deflated)."""
    pixel_data_available: int | None = None
    """Bytes of that value the file really holds (less when the file is cut short)."""
    private_compression: str = ""
    """A manufacturer's private pixel compression no decoder knows (e.g. "ELSCINT's PMSCT_RLE1")."""
    frame: int | None = None
    """For one frame of a multi-frame file: its index (0-based); None for a classic single-slice file."""
    rescale: tuple[float, float] | None = None
    """(slope, intercept) of a frame, from its functional groups; classic slices are rescaled by GDCM."""
    body_part: str = ""
    identity: PatientIdentity = PatientIdentity()


@dataclass(frozen=True)
class HeaderResult:
    """Outcome of reading one file: its kind and, for DICOM, its header."""

    kind: FileKind
    header: SliceHeader | None = None
    reason: str = ""
    frames: tuple[SliceHeader, ...] = ()
    """One header per frame of an Enhanced (multi-frame) CT with functional groups; () otherwise."""

    @property
    def slices(self) -> tuple[SliceHeader, ...]:
        """The headers this file contributes to a series: its frames, or itself."""
        return self.frames or ((self.header,) if self.header is not None else ())


def looks_like_dicom(path: str) -> bool:
    """Cheap sniff: a 'DICM' preamble, or a preamble-less file starting with a group 0002/0008 tag."""
    try:
        with open(path, "rb") as fp:
            head = fp.read(132)
    except OSError:
        return False
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    return len(head) >= 8 and head[:2] in (b"\x02\x00", b"\x08\x00") and head[3:4] == b"\x00"


def read_header(path: str) -> HeaderResult:
    """Parse the header of ``path`` (no pixel data is read or decoded)."""
    if not looks_like_dicom(path):
        return HeaderResult(FileKind.NOT_DICOM)
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as fp:
            ds = pydicom.dcmread(fp, stop_before_pixels=True, specific_tags=HEADER_TAGS, force=True)
            syntax = _text(getattr(ds, "file_meta", None), "TransferSyntaxUID")
            offset = fp.tell()
            has_pixels = offset < size and fp.read(4) in _PIXEL_TAGS
            element = None
            if has_pixels and syntax != _DEFLATED:
                fp.seek(offset)
                element = pixel_element(fp, size, syntax)
        if syntax == _DEFLATED:
            has_pixels = True
    except InvalidDicomError as exc:
        return HeaderResult(FileKind.NOT_DICOM, reason=str(exc))
    except Exception as exc:  # noqa: BLE001 - arbitrary bytes make pydicom raise anything; a bad file never stops a scan
        return HeaderResult(FileKind.UNREADABLE, reason=f"{type(exc).__name__}: {exc}")
    sop = _text(ds, "SOPClassUID") or _text(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID")
    if sop == MEDIA_STORAGE_DIRECTORY:
        return HeaderResult(FileKind.DIRECTORY_RECORD)
    if not sop and not _text(ds, "Modality"):
        # force=True parses almost anything; without SOP class or modality it is not DICOM we can use
        return HeaderResult(FileKind.NOT_DICOM)
    header = _header_from_dataset(path, ds, sop, has_pixels)
    header = replace(
        header,
        transfer_syntax=syntax,
        pixel_data_length=element.declared if element else None,
        pixel_data_available=element.available if element else None,
        private_compression=_private_compression(ds),
    )
    if not has_pixels and (header.rows or is_pixel_sop_class(sop)):
        # keep what was parsed: the series UID tells which series lost a slice
        return HeaderResult(FileKind.UNREADABLE, header, reason=_no_pixels_reason(path))
    from kneeseg_app.core.dicom.frames import frame_headers  # frames decodes pixels; headers must not need it at import

    return HeaderResult(FileKind.DICOM, header, frames=tuple(frame_headers(header, ds)))


HEADER_ONLY_REASON = "it holds a DICOM header but no pixel data, as a header-only export does"
TRUNCATED_REASON = "the file ends before its pixel data (truncated)"


def _no_pixels_reason(path: str) -> str:
    return HEADER_ONLY_REASON if ends_cleanly(path) else TRUNCATED_REASON


def _private_compression(ds: Any) -> str:
    """Name of a private pixel compression announced in the header, '' for none."""
    creator, scheme = _private_text(ds, 0x07A10010), _private_text(ds, 0x07A11011)
    if "ELSCINT" in creator.upper() and scheme.upper().startswith("PMSCT"):
        return f"ELSCINT's private {scheme.upper()} compression"
    return ""


def _header_from_dataset(path: str, ds: Any, sop: str, has_pixels: bool) -> SliceHeader:
    return SliceHeader(
        path=path,
        sop_class_uid=sop,
        modality=_text(ds, "Modality").upper(),
        series_uid=_text(ds, "SeriesInstanceUID"),
        study_uid=_text(ds, "StudyInstanceUID"),
        description=_text(ds, "SeriesDescription"),
        series_number=_integer(ds, "SeriesNumber"),
        instance_number=_integer(ds, "InstanceNumber"),
        image_type=tuple(v.upper() for v in _strings(ds, "ImageType")),
        position=_floats(ds, "ImagePositionPatient", 3),  # type: ignore[arg-type]
        orientation=_floats(ds, "ImageOrientationPatient", 6),  # type: ignore[arg-type]
        pixel_spacing=_floats(ds, "PixelSpacing", 2),  # type: ignore[arg-type]
        rows=_integer(ds, "Rows") or 0,
        columns=_integer(ds, "Columns") or 0,
        slice_thickness_mm=_float(ds, "SliceThickness"),
        convolution_kernel="/".join(_strings(ds, "ConvolutionKernel")),
        manufacturer=_text(ds, "Manufacturer"),
        patient_position=_text(ds, "PatientPosition"),
        gantry_tilt_deg=_float(ds, "GantryDetectorTilt"),
        number_of_frames=_integer(ds, "NumberOfFrames") or 1,
        bits_allocated=_integer(ds, "BitsAllocated") or 0,
        samples_per_pixel=_integer(ds, "SamplesPerPixel") or 1,
        has_pixel_data=has_pixels,
        body_part=_text(ds, "BodyPartExamined"),
        identity=_identity(ds),
    )


def _identity(ds: Any) -> PatientIdentity:
    """Patient and study identifiers; Laterality (series level) before Image Laterality ('B'/'U' say nothing)."""
    sides = (_text(ds, "Laterality").upper(), _text(ds, "ImageLaterality").upper())
    laterality = next((v for v in sides if v in ("L", "R")), "")
    return PatientIdentity(
        name=_text(ds, "PatientName"),
        patient_id=_text(ds, "PatientID"),
        birth_date=_text(ds, "PatientBirthDate"),
        study_date=_text(ds, "StudyDate"),
        study_description=_text(ds, "StudyDescription"),
        accession_number=_text(ds, "AccessionNumber"),
        laterality=laterality,
    )


def _private_text(ds: Any, tag: int) -> str:
    """A private element's value as text (read as bytes when its VR is unknown)."""
    try:
        element = ds.get(tag)
        value = getattr(element, "value", None)
    except Exception:  # noqa: BLE001 - a malformed value is treated as absent
        return ""
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    return "" if value is None else str(value).strip(" \0")


def _raw(ds: Any, keyword: str) -> Any:
    if ds is None:
        return None
    try:
        return ds.get(keyword)
    except Exception:  # noqa: BLE001 - a malformed value is treated as absent
        return None


def _text(ds: Any, keyword: str) -> str:
    value = _raw(ds, keyword)
    return "" if value is None else str(value).strip()


def _strings(ds: Any, keyword: str) -> list[str]:
    value = _raw(ds, keyword)
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)) or type(value).__name__ == "MultiValue":
        return [str(v).strip() for v in value if str(v).strip()]
    return [str(value).strip()]


def _float(ds: Any, keyword: str) -> float | None:
    value = _raw(ds, keyword)
    try:
        return None if value is None or value == "" else float(value)
    except (TypeError, ValueError):
        return None


def _integer(ds: Any, keyword: str) -> int | None:
    value = _float(ds, keyword)
    return None if value is None else int(value)


def _floats(ds: Any, keyword: str, count: int) -> tuple[float, ...] | None:
    values = _strings(ds, keyword)
    if len(values) != count:
        return None
    try:
        return tuple(float(v) for v in values)
    except ValueError:
        return None
