"""DICOM Segmentation (SEG) import: any SEG made on the open CT's slices as a label map.

The writer is :mod:`kneeseg_app.core.dicom.seg`; the codes and SOP class it shares are
imported from there. Segments coded as femur/tibia (by SNOMED CT, as 3D Slicer/dcmqi write
them) become labels 1/2; frames are placed by their ImagePositionPatient.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import SegmentationStorage

from kneeseg_app.core.dicom.seg import LABEL_MAP_SEGMENTATION_STORAGE, LABEL_OF_CODE
from kneeseg_app.core.errors import LabelMapError, UnreadableFileError
from kneeseg_app.core.volume import Volume


def read_dicom_seg(path: str | Path, reference: Volume) -> Volume:
    """A DICOM SEG as a uint8 label map on ``reference``'s grid.

    Segments coded as femur/tibia become labels 1/2 (see :data:`LABEL_OF_CODE`); others
    keep their segment number (or the next free value). BINARY, FRACTIONAL (cut at one
    half) and LABELMAP segmentations are read. Frames are placed by their
    ImagePositionPatient, so any SEG made on this CT's slices loads, whoever wrote it.
    """
    path = Path(path)
    ds = _read_seg_file(path)
    values = _label_values(ds)
    frames = _frame_pixels(ds, path)
    geometry = _FrameGeometry.of(ds, reference, path)
    array = np.zeros(reference.shape, dtype=np.uint8)
    if ds.SOPClassUID == LABEL_MAP_SEGMENTATION_STORAGE:
        lookup = np.zeros(max(values, default=0) + 1, dtype=np.uint8)
        for number, value in values.items():
            lookup[number] = value
        for index, item in enumerate(ds.get("PerFrameFunctionalGroupsSequence", [])):
            pixels = np.minimum(frames[index], len(lookup) - 1)
            k = geometry.slice_index(item, index)
            array[k] = np.where(pixels > 0, lookup[pixels], array[k])
    else:
        for index, item in enumerate(ds.get("PerFrameFunctionalGroupsSequence", [])):
            k = geometry.slice_index(item, index)
            array[k][frames[index]] = values.get(_frame_segment_number(ds, item), 0)
    warnings = _reference_warnings(ds, reference)
    return reference.with_array(array, dicom=None, source=str(path), warnings=warnings)


def _read_seg_file(path: Path) -> Dataset:
    try:
        ds = pydicom.dcmread(path)
    except (InvalidDicomError, OSError, ValueError) as exc:
        raise UnreadableFileError(f"Cannot read {path.name} as a DICOM file: {exc}.") from exc
    if ds.get("SOPClassUID") not in (SegmentationStorage, LABEL_MAP_SEGMENTATION_STORAGE):
        kind = ds.get("Modality", "") or "non-segmentation"
        raise LabelMapError(f"{path.name} is not a DICOM Segmentation (it is a {kind} object).")
    return ds


def _label_values(ds: Dataset) -> dict[int, int]:
    """Segment number -> label value: coded femur/tibia to 1/2, others keep their number."""
    values: dict[int, int] = {}
    uncoded: list[int] = []
    for segment in ds.get("SegmentSequence", []):
        number = int(segment.SegmentNumber)
        codes = segment.get("SegmentedPropertyTypeCodeSequence", [])
        key = (str(codes[0].get("CodingSchemeDesignator", "")), str(codes[0].get("CodeValue", ""))) if codes else None
        if key in LABEL_OF_CODE:
            values[number] = LABEL_OF_CODE[key]
        else:
            uncoded.append(number)
    for number in uncoded:
        value = number
        while value in values.values() or value == 0:
            value += 1
        if value > 255:
            raise LabelMapError("The DICOM SEG has more segments than a label map can hold (255).")
        values[number] = value
    return values


def _frame_pixels(ds: Dataset, path: Path) -> np.ndarray:
    """(frames, rows, columns): boolean masks for BINARY and FRACTIONAL (cut at one half),
    segment numbers for LABELMAP."""
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # pydicom raises many types for undecodable pixel data
        raise UnreadableFileError(f"Cannot decode the pixel data of {path.name}: {exc}.") from exc
    pixels = pixels.reshape(-1, int(ds.Rows), int(ds.Columns))
    kind = ds.get("SegmentationType", "BINARY")
    if kind == "LABELMAP":
        return pixels.astype(np.int64)
    if kind == "FRACTIONAL":
        maximum = float(ds.get("MaximumFractionalValue", 255))
        return pixels.astype(np.float32) >= maximum / 2
    return pixels > 0


def _frame_segment_number(ds: Dataset, frame: Dataset) -> int:
    for groups in (frame, *ds.get("SharedFunctionalGroupsSequence", [])):
        if "SegmentIdentificationSequence" in groups:
            return int(groups.SegmentIdentificationSequence[0].ReferencedSegmentNumber)
    raise LabelMapError("A frame of the DICOM SEG does not say which segment it shows.")


@dataclass
class _FrameGeometry:
    """Maps SEG frames onto the reference CT's slices (or says why they do not fit)."""

    reference: Volume
    name: str
    shared: Dataset | None

    @classmethod
    def of(cls, ds: Dataset, reference: Volume, path: Path) -> _FrameGeometry:
        shared = ds.SharedFunctionalGroupsSequence[0] if ds.get("SharedFunctionalGroupsSequence") else None
        geometry = cls(reference, path.name, shared)
        if (int(ds.Rows), int(ds.Columns)) != reference.shape[1:]:
            raise LabelMapError(
                f"The DICOM SEG's frames are {ds.Columns} x {ds.Rows} pixels but the CT's slices are "
                f"{reference.shape[2]} x {reference.shape[1]}; it was made on another series."
            )
        return geometry

    def _group(self, frame: Dataset, keyword: str) -> Dataset:
        for groups in (frame, self.shared):
            if groups is not None and keyword in groups:
                return groups[keyword].value[0]
        raise LabelMapError(f"The DICOM SEG {self.name} lacks {keyword}, so its frames cannot be placed on the CT.")

    def slice_index(self, frame: Dataset, index: int) -> int:
        orientation = np.array(
            [float(v) for v in self._group(frame, "PlaneOrientationSequence").ImageOrientationPatient]
        )
        position = np.array([float(v) for v in self._group(frame, "PlanePositionSequence").ImagePositionPatient])
        ref = self.reference
        if (
            np.abs(orientation[:3] - ref.direction[:, 0]).max() > 1e-3
            or np.abs(orientation[3:] - ref.direction[:, 1]).max() > 1e-3
        ):
            raise LabelMapError(
                f"The DICOM SEG {self.name} is oriented differently from this CT; it was made on another series."
            )
        k, j, i = ref.lps_to_index(position)
        tolerance = 0.05  # voxels
        if (
            abs(j) > tolerance
            or abs(i) > tolerance
            or abs(k - round(k)) > tolerance
            or not 0 <= round(k) < ref.shape[0]
        ):
            raise LabelMapError(
                f"Frame {index + 1} of the DICOM SEG {self.name} does not lie on a slice of this CT; "
                "it was made on another series or grid."
            )
        return int(round(k))


def _reference_warnings(ds: Dataset, reference: Volume) -> list[str]:
    referenced = {str(item.get("SeriesInstanceUID", "")) for item in ds.get("ReferencedSeriesSequence", [])}
    if (
        reference.dicom
        and reference.dicom.series_instance_uid
        and referenced
        and reference.dicom.series_instance_uid not in referenced
    ):
        return [
            "The DICOM SEG was made on another series with the same slice positions; check that it belongs to this CT."
        ]
    return []
