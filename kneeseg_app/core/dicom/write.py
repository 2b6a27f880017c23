"""Write a CT volume as a DICOM series (CT Image Storage, one file per slice).

Used for the demo case and the synthetic test data, so that they travel through the
same DICOM reader as a surgeon's scan. The series is written into a temporary folder
beside the target and renamed into place, so nobody ever sees half a series.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, ExplicitVRLittleEndian

from kneeseg_app.core.atomic import ensure_not_inside
from kneeseg_app.core.errors import OutputError
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress
from kneeseg_app.core.volume import Volume

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
UNSIGNED_INTERCEPT = -1024


def make_uid(*parts: object) -> str:
    """A UID derived from ``parts`` (same parts, same UID), under the UUID arc 2.25."""
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode("utf-8")).digest()
    return f"2.25.{int.from_bytes(digest[:16], 'big')}"


def random_uid() -> str:
    return pydicom.uid.generate_uid(prefix=None)


def write_dicom_series(
    volume: Volume,
    folder: str | os.PathLike[str],
    *,
    series_description: str = "Synthetic knee CT",
    patient_name: str = "PHANTOM^KNEE",
    patient_id: str = "PHANTOM",
    study_uid: str | None = None,
    series_uid: str | None = None,
    kernel: str = "STANDARD",
    manufacturer: str = "KneeSeg phantom",
    seed: int | None = None,
    patient_position: str | None = None,
    series_number: int = 1,
    study_description: str = "Knee CT (synthetic, not a patient)",
    overwrite: bool = False,
    protected: Sequence[str | os.PathLike[str]] = (),
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> list[Path]:
    """Write ``volume`` (HU) as one DICOM file per slice into ``folder``; returns the files in order.

    With ``seed`` the UIDs are derived from it (the same call writes the same series);
    without, they are random. ``folder`` must not exist (or be empty) unless ``overwrite``.
    """
    target = Path(folder)
    ensure_not_inside(target, list(protected))
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not overwrite)):
        raise OutputError(f"{target} already exists; choose an empty folder or allow overwriting.")
    stored, intercept, signed = _stored_pixels(volume.array)
    uids = _uids(seed, study_uid, series_uid)
    header = _SeriesHeader(
        volume=volume,
        uids=uids,
        series_description=series_description,
        patient_name=patient_name,
        patient_id=patient_id,
        kernel=kernel,
        manufacturer=manufacturer,
        patient_position=patient_position or (volume.dicom.patient_position if volume.dicom else "") or "FFS",
        series_number=series_number,
        study_description=study_description,
        intercept=intercept,
        signed=signed,
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    except OSError as exc:
        raise OutputError(f"Cannot create a folder beside {target}: {exc.strerror or exc}.") from exc
    try:
        names = _write_slices(header, stored, tmp, progress, cancel)
        _move_into_place(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return [target / name for name in names]


def _stored_pixels(array: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """Stored values and intercept: unsigned with intercept -1024 when the range allows it."""
    hu = np.rint(array).astype(np.int32) if array.dtype.kind == "f" else array.astype(np.int32, copy=False)
    low, high = (int(hu.min()), int(hu.max())) if hu.size else (0, 0)
    if low >= UNSIGNED_INTERCEPT and high <= 65535 + UNSIGNED_INTERCEPT:
        return (hu - UNSIGNED_INTERCEPT).astype(np.uint16), float(UNSIGNED_INTERCEPT), False
    if low < -32768 or high > 32767:
        raise OutputError("The CT values do not fit into 16-bit DICOM pixels.")
    return hu.astype(np.int16), 0.0, True


def _uids(seed: int | None, study_uid: str | None, series_uid: str | None) -> dict[str, str]:
    def uid(kind: str) -> str:
        return make_uid("kneeseg", seed, kind) if seed is not None else random_uid()

    series = series_uid or uid("series")
    return {
        "study": study_uid or uid("study"),
        "series": series,
        "frame": make_uid("kneeseg-frame", series) if seed is not None else random_uid(),
        "instance_base": series,
    }


@dataclass(frozen=True)
class _SeriesHeader:
    """Header values shared by every slice of one series."""

    volume: Volume
    uids: dict[str, str]
    series_description: str
    patient_name: str
    patient_id: str
    kernel: str
    manufacturer: str
    patient_position: str
    series_number: int
    study_description: str
    intercept: float
    signed: bool

    def dataset(self, index: int) -> Dataset:
        vol = self.volume
        sop_uid = make_uid(self.uids["instance_base"], index)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID = CT_IMAGE_STORAGE
        ds.SOPInstanceUID = sop_uid
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240101"
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
        ds.AccessionNumber = ""
        ds.Modality = "CT"
        ds.Manufacturer = self.manufacturer
        ds.ManufacturerModelName = "KneeSeg synthetic CT"
        ds.ReferringPhysicianName = ""
        ds.StudyDescription = self.study_description
        ds.SeriesDescription = self.series_description
        ds.PatientName = self.patient_name
        ds.PatientID = self.patient_id
        ds.PatientBirthDate = ""
        ds.PatientSex = "O"
        ds.BodyPartExamined = "KNEE"
        ds.ImageComments = "Synthetic phantom generated by KneeSeg; not patient data."
        sz = vol.spacing_zyx[0]
        thickness = vol.dicom.slice_thickness_mm if vol.dicom and vol.dicom.slice_thickness_mm else sz
        ds.SliceThickness = _ds(thickness)
        ds.SpacingBetweenSlices = _ds(sz)
        ds.KVP = "120"
        ds.ConvolutionKernel = self.kernel
        ds.PatientPosition = self.patient_position
        ds.StudyInstanceUID = self.uids["study"]
        ds.SeriesInstanceUID = self.uids["series"]
        ds.StudyID = "1"
        ds.SeriesNumber = self.series_number
        ds.InstanceNumber = index + 1
        position = vol.index_to_lps([index, 0, 0])
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.ImageOrientationPatient = [_ds(v) for v in (*vol.direction[:, 0], *vol.direction[:, 1])]
        ds.FrameOfReferenceUID = self.uids["frame"]
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = _ds(float(position @ np.cross(vol.direction[:, 0], vol.direction[:, 1])))
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows, ds.Columns = vol.shape[1], vol.shape[2]
        ds.PixelSpacing = [_ds(vol.spacing_zyx[1]), _ds(vol.spacing_zyx[2])]
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1 if self.signed else 0
        ds.WindowCenter = "400"
        ds.WindowWidth = "1800"
        ds.RescaleIntercept = _ds(self.intercept)
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        return ds


def _ds(value: float) -> str:
    """A DICOM decimal string (at most 16 characters)."""
    text = f"{float(value):.6f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text if len(text) <= 16 else f"{float(value):.9g}"


def _write_slices(
    header: _SeriesHeader, stored: np.ndarray, folder: Path, progress: ProgressCallback, cancel: CancelToken | None
) -> list[str]:
    names = []
    count = stored.shape[0]
    width = max(4, len(str(count)))
    for index in range(count):
        if cancel is not None:
            cancel.raise_if_cancelled()
        ds = header.dataset(index)
        ds.PixelData = np.ascontiguousarray(stored[index]).tobytes()
        name = f"IM{index + 1:0{width}d}.dcm"
        try:
            ds.save_as(folder / name, enforce_file_format=True)
        except OSError as exc:
            raise OutputError(f"Cannot write the DICOM series into {folder.parent}: {exc.strerror or exc}.") from exc
        names.append(name)
        if index % 16 == 0 or index == count - 1:
            progress("Writing DICOM slices", (index + 1) / count)
    return names


def _move_into_place(tmp: Path, target: Path) -> None:
    """Rename the finished temporary folder onto ``target`` (replacing an old series)."""
    trash = None
    try:
        if target.exists():
            if any(target.iterdir()):
                trash = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent))
                os.replace(target, trash / target.name)
            else:
                target.rmdir()
        os.replace(tmp, target)
    except OSError as exc:
        if trash is not None and not target.exists():
            os.replace(trash / target.name, target)  # put the old series back
        raise OutputError(f"Cannot put the DICOM series at {target}: {exc.strerror or exc}.") from exc
    finally:
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
