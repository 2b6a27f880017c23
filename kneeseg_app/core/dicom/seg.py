"""DICOM Segmentation (SEG) export (import: :mod:`kneeseg_app.core.dicom.seg_read`): femur and tibia as coded segments.

Why a SEG: it is the hospital's native format (PACS, 3D Slicer, OHIF) and references the
exact CT slices it was made on, so a segmentation can never be shown on the wrong scan.

Writing uses pydicom only (no highdicom: it and its image codecs would add ~55 MB to the
installed app for one file type). The object follows the Segmentation IOD (PS3.3 A.51):
BINARY, one frame per (segment, slice) that holds the segment, frames referencing their
source CT instance, segments coded in SNOMED CT as 3D Slicer/dcmqi do (category
"Anatomical Structure" SCT 91723000, type Femur SCT 71341001 / Tibia SCT 12611008),
algorithm type AUTOMATIC with the model's name and version.

Privacy: from the source CT the SEG copies only what the standard requires to file it
under the same patient, study and frame of reference (the type 1 and 2 attributes listed
in :data:`COPIED_FROM_SOURCE`); nothing else of the source header (addresses, other IDs,
institution, operators, descriptions, ages, weights...) reaches the file, and nothing of
the patient is logged.

A little over 400 lines on purpose: the writer of one IOD, each attribute group a small
function; splitting it would scatter one standard object over several files.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import pack_bits
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian, SegmentationStorage, generate_uid
from pydicom.valuerep import format_number_as_ds

from kneeseg_app.core.atomic import write_atomic
from kneeseg_app.core.errors import KneeSegError, LabelMapError, OutputError, UnreadableFileError
from kneeseg_app.core.grid import on_same_grid
from kneeseg_app.core.labels import LABEL_NAMES
from kneeseg_app.core.progress import ProgressCallback, no_progress
from kneeseg_app.core.protection import refuse_input_folders
from kneeseg_app.core.volume import Volume

LABEL_MAP_SEGMENTATION_STORAGE = "1.2.840.10008.5.1.4.1.1.66.7"
"""The newer SEG flavour whose pixels are segment numbers (read, not written)."""


@dataclass(frozen=True)
class Code:
    value: str
    scheme: str
    meaning: str

    def item(self) -> Dataset:
        ds = Dataset()
        ds.CodeValue = self.value
        ds.CodingSchemeDesignator = self.scheme
        ds.CodeMeaning = self.meaning
        return ds


ANATOMICAL_STRUCTURE = Code("91723000", "SCT", "Anatomical Structure")
BONE_CODES: dict[str, Code] = {
    "femur": Code("71341001", "SCT", "Femur"),
    "tibia": Code("12611008", "SCT", "Tibia"),
}
LABEL_OF_CODE: dict[tuple[str, str], int] = {("SCT", "71341001"): 1, ("SCT", "12611008"): 2}
"""Coded anatomy -> KneeSeg label value when importing a SEG (femur 1, tibia 2)."""

_DISPLAY_RGB = {"femur": (241, 214, 145), "tibia": (177, 122, 101)}
_SOURCE_IMAGE_PURPOSE = Code("121322", "DCM", "Source image for image processing operation")
_DERIVATION_SEGMENTATION = Code("113076", "DCM", "Segmentation")
_ARTIFICIAL_INTELLIGENCE = Code("123110", "DCM", "Artificial Intelligence")

COPIED_FROM_SOURCE = (
    # Patient module (type 2): files the SEG under the same patient in a PACS.
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    # General Study module (type 1/2): same study.
    "StudyInstanceUID",
    "StudyDate",
    "StudyTime",
    "StudyID",
    "AccessionNumber",
    "ReferringPhysicianName",
    # Frame of Reference module: same patient coordinate system as the CT.
    "FrameOfReferenceUID",
    "PositionReferenceIndicator",
)
_TYPE1_FROM_SOURCE = {"StudyInstanceUID", "FrameOfReferenceUID"}

# Positions must agree to this (mm) for the SEG to reference the original slices.
_POSITION_TOLERANCE_MM = 0.01
_ORIENTATION_TOLERANCE = 1e-4


# ----------------------------------------------------------------------------------------
# writing
# ----------------------------------------------------------------------------------------
def write_dicom_seg(
    labels: Volume,
    source: Volume,
    path: str | Path,
    *,
    labels_map: Mapping[int, str] | None = None,
    algorithm_name: str = "KneeSeg",
    algorithm_version: str = "",
    series_description: str = "KneeSeg femur and tibia",
    overwrite: bool = True,
    protected: Sequence[str | Path] = (),
    progress: ProgressCallback = no_progress,
) -> Path:
    """Write ``labels`` (on ``source``'s grid) as a DICOM SEG referencing ``source``'s slices.

    Raises :class:`OutputError` when ``source`` was not read from DICOM files or was
    resampled when read (gantry tilt, uneven slices): a SEG must reference the original
    slices. The source series folder is always protected from being written into.
    """
    labels_map = dict(LABEL_NAMES if labels_map is None else labels_map)
    files = _require_dicom_files(source)
    if not on_same_grid(labels, source):
        raise LabelMapError(
            "The label map does not lie on the CT's voxel grid, so it cannot be saved as a DICOM SEG of that CT."
        )
    path = Path(path)
    refuse_input_folders(path, protected, source)
    _require_one_file_per_slice(source, files)
    progress("Reading the CT's DICOM headers", 0.0)
    headers = [_read_header(f) for f in files]
    _require_original_slices(source, headers)
    segments = [(value, name) for value, name in labels_map.items() if np.any(labels.array == value)]
    if not segments:
        names = " or ".join(labels_map.values())
        raise LabelMapError(f"The label map holds no {names} voxels, so there is nothing to save as a DICOM SEG.")
    progress("Building the DICOM SEG", 0.4)
    ds = _segmentation_dataset(labels, source, headers, segments, algorithm_name, algorithm_version, series_description)
    progress("Writing the DICOM SEG", 0.8)
    write_atomic(path, lambda tmp: ds.save_as(tmp, enforce_file_format=True), overwrite=overwrite)
    progress("DICOM SEG written", 1.0)
    return path


def dicom_seg_problem(source: Volume) -> str | None:
    """Why a DICOM SEG cannot be written for ``source`` (one sentence), or None when it can.

    Lets the window disable "Save as DICOM SEG" and the CLI refuse ``--seg`` before the
    model runs. Whether the CT was resampled comes from what the reader recorded
    (``DicomFacts.resampled``); only the first slice's header is read.
    """
    try:
        files = _require_dicom_files(source)
        _require_one_file_per_slice(source, files)
        first = _read_header(files[0])
        for keyword in sorted(_TYPE1_FROM_SOURCE):
            if not first.get(keyword, None):
                raise OutputError(f"The CT's DICOM files have no {keyword}, which a DICOM SEG must reference.")
    except KneeSegError as exc:
        return str(exc)
    return None


def _require_dicom_files(source: Volume) -> tuple[str, ...]:
    if source.dicom is None or not source.dicom.files:
        where = f" ({Path(source.source).name})" if source.source else ""
        raise OutputError(
            f"A DICOM SEG needs a CT opened from DICOM files; this CT{where} was not, so save the label map as NIfTI or NRRD instead."
        )
    missing = [f for f in source.dicom.files if not Path(f).is_file()]
    if missing:
        raise OutputError(
            f"The CT's DICOM file {Path(missing[0]).name} is no longer there, and a DICOM SEG must reference it; reopen the CT folder."
        )
    return tuple(source.dicom.files)


def _read_header(path: str) -> Dataset:
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except (InvalidDicomError, OSError, ValueError) as exc:
        raise UnreadableFileError(f"Cannot read the DICOM header of {Path(path).name}: {exc}.") from exc


_RESAMPLED = (
    "The CT was resampled onto a regular grid when it was read (gantry tilt, uneven or missing slices), "
    "so its label map does not match the original DICOM slices that a DICOM SEG must reference; "
    "save the label map as NIfTI or NRRD instead."
)


def _require_one_file_per_slice(source: Volume, files: tuple[str, ...]) -> None:
    """From what the reader recorded (no header is read): one source file per slice, none interpolated."""
    nz = source.shape[0]
    if len(files) == 1 and nz > 1:
        raise OutputError(
            "The CT is one multi-frame DICOM file; KneeSeg writes a DICOM SEG only for CTs stored one slice per file, "
            "so save the label map as NIfTI or NRRD instead."
        )
    if (source.dicom is not None and source.dicom.resampled) or len(files) != nz:
        raise OutputError(_RESAMPLED)


def _require_original_slices(source: Volume, headers: list[Dataset]) -> None:
    """Each z index must be one source file at exactly its recorded position and orientation.

    Run by the writer on the headers it reads anyway (it copies their UIDs): it catches a grid
    moved after reading, which the reader's record cannot know of.
    """
    resampled = OutputError(_RESAMPLED)
    nz, ny, nx = source.shape
    row_dir, col_dir = source.direction[:, 0], source.direction[:, 1]
    for k, header in enumerate(headers):
        try:
            position = np.array([float(v) for v in header.ImagePositionPatient])
            orientation = np.array([float(v) for v in header.ImageOrientationPatient])
            rows, columns = int(header.Rows), int(header.Columns)
        except (AttributeError, TypeError, ValueError):
            raise resampled from None
        expected = source.index_to_lps([k, 0, 0])
        if (
            (rows, columns) != (ny, nx)
            or np.abs(position - expected).max() > _POSITION_TOLERANCE_MM
            or np.abs(orientation[:3] - row_dir).max() > _ORIENTATION_TOLERANCE
            or np.abs(orientation[3:] - col_dir).max() > _ORIENTATION_TOLERANCE
        ):
            raise resampled


def _segmentation_dataset(
    labels: Volume,
    source: Volume,
    headers: list[Dataset],
    segments: list[tuple[int, str]],
    algorithm_name: str,
    algorithm_version: str,
    series_description: str,
) -> Dataset:
    first = headers[0]
    now = _dt.datetime.now()
    ds = Dataset()
    ds.file_meta = _file_meta(sop_instance_uid := generate_uid())
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = SegmentationStorage
    ds.SOPInstanceUID = sop_instance_uid
    _copy_identifiers(first, ds)
    ds.Modality = "SEG"
    ds.SeriesInstanceUID = generate_uid()
    ds.SeriesNumber = 901
    ds.SeriesDescription = series_description[:64]
    ds.SeriesDate = ds.ContentDate = now.strftime("%Y%m%d")
    ds.SeriesTime = ds.ContentTime = now.strftime("%H%M%S")
    ds.InstanceCreationDate, ds.InstanceCreationTime = ds.ContentDate, ds.ContentTime
    ds.InstanceNumber = 1
    ds.ImageType = ["DERIVED", "PRIMARY"]
    if "Laterality" in first and first.Laterality:
        ds.Laterality = first.Laterality  # knee side, not a patient identifier
    _set_equipment(ds, algorithm_name, algorithm_version)
    ds.ContentLabel = "KNEESEG"
    ds.ContentDescription = "Femur and tibia (research software, not for clinical use)"
    ds.ContentCreatorName = ""
    ds.SegmentationType = "BINARY"
    ds.SegmentsOverlap = "NO"  # from a label map: one bone per voxel
    ds.SegmentSequence = DicomSequence(
        [_segment_item(number, name, algorithm_name, algorithm_version) for number, (_, name) in enumerate(segments, 1)]
    )
    ds.ReferencedSeriesSequence = DicomSequence([_referenced_series(headers)])
    dimension_uid = generate_uid()
    ds.DimensionOrganizationSequence = DicomSequence([_item(DimensionOrganizationUID=dimension_uid)])
    ds.DimensionOrganizationType = "3D"
    ds.DimensionIndexSequence = DicomSequence(
        [
            _item(
                DimensionOrganizationUID=dimension_uid,
                DimensionIndexPointer=0x0062000B,  # ReferencedSegmentNumber
                FunctionalGroupPointer=0x0062000A,  # SegmentIdentificationSequence
                DimensionDescriptionLabel="ReferencedSegmentNumber",
            ),
            _item(
                DimensionOrganizationUID=dimension_uid,
                DimensionIndexPointer=0x00200032,  # ImagePositionPatient
                FunctionalGroupPointer=0x00209113,  # PlanePositionSequence
                DimensionDescriptionLabel="ImagePositionPatient",
            ),
        ]
    )
    ds.SharedFunctionalGroupsSequence = DicomSequence([_shared_groups(source, first)])
    frames, per_frame = _frames(labels, headers, segments)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    _set_pixels(ds, frames, source.shape[1:])
    return ds


def _file_meta(sop_instance_uid: str) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SegmentationStorage
    meta.MediaStorageSOPInstanceUID = sop_instance_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    return meta


def _copy_identifiers(source_header: Dataset, ds: Dataset) -> None:
    """Copy exactly :data:`COPIED_FROM_SOURCE` (empty when the source lacks a type 2 one)."""
    for keyword in COPIED_FROM_SOURCE:
        value = source_header.get(keyword, None)
        if keyword in _TYPE1_FROM_SOURCE and not value:
            raise OutputError(f"The CT's DICOM files have no {keyword}, which a DICOM SEG must reference.")
        setattr(ds, keyword, value if value is not None else "")


def _set_equipment(ds: Dataset, algorithm_name: str, algorithm_version: str) -> None:
    ds.Manufacturer = "KneeSeg"
    ds.ManufacturerModelName = algorithm_name[:64] or "KneeSeg"
    ds.DeviceSerialNumber = "0"
    ds.SoftwareVersions = (algorithm_version or "unknown")[:64]


def _segment_item(number: int, name: str, algorithm_name: str, algorithm_version: str) -> Dataset:
    item = Dataset()
    item.SegmentNumber = number
    item.SegmentLabel = name.capitalize()[:64]
    item.SegmentAlgorithmType = "AUTOMATIC"
    item.SegmentAlgorithmName = " ".join(p for p in (algorithm_name, algorithm_version) if p)[:64] or "KneeSeg"
    item.SegmentationAlgorithmIdentificationSequence = DicomSequence(
        [
            _item(
                AlgorithmFamilyCodeSequence=DicomSequence([_ARTIFICIAL_INTELLIGENCE.item()]),
                AlgorithmName=(algorithm_name or "KneeSeg")[:64],
                AlgorithmVersion=(algorithm_version or "unknown")[:64],
            )
        ]
    )
    code = BONE_CODES.get(name.lower())
    category = ANATOMICAL_STRUCTURE
    if code is None:  # a structure KneeSeg has no code for: keep a readable local code
        code = Code(f"KNEESEG{number}", "99KNEESEG", name[:64])
    item.SegmentedPropertyCategoryCodeSequence = DicomSequence([category.item()])
    item.SegmentedPropertyTypeCodeSequence = DicomSequence([code.item()])
    if name.lower() in _DISPLAY_RGB:
        item.RecommendedDisplayCIELabValue = list(_dicom_lab(_DISPLAY_RGB[name.lower()]))
    return item


def _referenced_series(headers: list[Dataset]) -> Dataset:
    series = Dataset()
    series.SeriesInstanceUID = headers[0].SeriesInstanceUID
    series.ReferencedInstanceSequence = DicomSequence(
        [_item(ReferencedSOPClassUID=h.SOPClassUID, ReferencedSOPInstanceUID=h.SOPInstanceUID) for h in headers]
    )
    return series


def _shared_groups(source: Volume, first: Dataset) -> Dataset:
    sz, sy, sx = source.spacing_zyx
    thickness = source.dicom.slice_thickness_mm if source.dicom and source.dicom.slice_thickness_mm else sz
    measures = _item(
        PixelSpacing=list(first.PixelSpacing) if "PixelSpacing" in first else [_ds(sy), _ds(sx)],
        SliceThickness=_ds(thickness),
        SpacingBetweenSlices=_ds(sz),
    )
    orientation = _item(ImageOrientationPatient=list(first.ImageOrientationPatient))
    return _item(
        PixelMeasuresSequence=DicomSequence([measures]),
        PlaneOrientationSequence=DicomSequence([orientation]),
    )


def _frames(
    labels: Volume, headers: list[Dataset], segments: list[tuple[int, str]]
) -> tuple[list[np.ndarray], list[Dataset]]:
    """One frame per (segment, slice holding it), segment-major then slice order."""
    frames: list[np.ndarray] = []
    groups: list[Dataset] = []
    for number, (value, _) in enumerate(segments, 1):
        mask = labels.array == value
        for k in np.flatnonzero(mask.any(axis=(1, 2))):
            frames.append(mask[k])
            groups.append(_frame_group(number, int(k), headers[k]))
    return frames, groups


def _frame_group(segment_number: int, k: int, header: Dataset) -> Dataset:
    source_image = _item(
        ReferencedSOPClassUID=header.SOPClassUID,
        ReferencedSOPInstanceUID=header.SOPInstanceUID,
        PurposeOfReferenceCodeSequence=DicomSequence([_SOURCE_IMAGE_PURPOSE.item()]),
    )
    derivation = _item(
        SourceImageSequence=DicomSequence([source_image]),
        DerivationCodeSequence=DicomSequence([_DERIVATION_SEGMENTATION.item()]),
    )
    return _item(
        DerivationImageSequence=DicomSequence([derivation]),
        FrameContentSequence=DicomSequence([_item(DimensionIndexValues=[segment_number, k + 1])]),
        PlanePositionSequence=DicomSequence([_item(ImagePositionPatient=list(header.ImagePositionPatient))]),
        SegmentIdentificationSequence=DicomSequence([_item(ReferencedSegmentNumber=segment_number)]),
    )


def _set_pixels(ds: Dataset, frames: list[np.ndarray], rows_columns: tuple[int, int]) -> None:
    rows, columns = rows_columns
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = rows, columns
    ds.NumberOfFrames = len(frames)
    ds.BitsAllocated = 1
    ds.BitsStored = 1
    ds.HighBit = 0
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "00"
    # BINARY frames are bit-packed back to back (not padded per frame), then to even length.
    ds.add_new(0x7FE00010, "OB", pack_bits(np.stack(frames).astype(np.uint8).ravel(), pad=True))


def _item(**attributes: object) -> Dataset:
    item = Dataset()
    for keyword, value in attributes.items():
        setattr(item, keyword, value)
    return item


def _ds(value: float) -> str:
    return format_number_as_ds(float(value))


def _dicom_lab(rgb: tuple[int, int, int]) -> tuple[int, int, int]:
    """sRGB (0-255) to DICOM's scaled CIELab (D65; L 0-100 and a, b -128..127 to 0-65535)."""
    c = np.asarray(rgb, dtype=float) / 255.0
    linear = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ linear
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lab = (116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2]))
    return (
        int(round(lab[0] * 65535 / 100)),
        int(round((lab[1] + 128) * 65535 / 255)),
        int(round((lab[2] + 128) * 65535 / 255)),
    )
