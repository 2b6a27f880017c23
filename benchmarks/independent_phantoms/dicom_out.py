"""Write a phantom case as a DICOM CT series plus its label map (EVALUATION ONLY, never training).

pydicom directly, one file per slice, axial LPS geometry: ImageOrientationPatient
[1,0,0, 0,1,0], ImagePositionPatient = the first pixel's centre of each slice,
PixelSpacing [row spacing, column spacing], signed 16-bit stored values with the
case's RescaleSlope / RescaleIntercept. The labels (1 femur, 2 tibia) go to NIfTI
through SimpleITK on exactly the same grid.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk
from pydicom.dataset import FileDataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from benchmarks.independent_phantoms.params import Case
from benchmarks.independent_phantoms.render import grid_of, render

UID_ROOT = "1.2.826.0.1.3680043.8.498."


def _uid(case: Case, *parts: object) -> str:
    return generate_uid(prefix=UID_ROOT, entropy_srcs=[str(case.seed), case.name, *map(str, parts)])


def _header(case: Case) -> pydicom.Dataset:
    """Everything the slices share."""
    scanner = case.scanner
    pixel = scanner.fov_mm / scanner.matrix
    ds = pydicom.Dataset()
    ds.PatientName, ds.PatientID = f"Phantom^{case.name}", f"IND-{case.seed}-{case.name}"
    ds.PatientBirthDate, ds.PatientSex = "", "O"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = _uid(case, "study"), _uid(case, "series")
    ds.FrameOfReferenceUID = _uid(case, "frame")
    ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20261205"
    ds.StudyTime = ds.SeriesTime = ds.ContentTime = "090000"
    ds.StudyID, ds.SeriesNumber, ds.AccessionNumber = "1", 3, ""
    ds.Modality, ds.BodyPartExamined, ds.Manufacturer = "CT", "KNEE", "IndependentPhantom"
    ds.SeriesDescription = f"Knee {scanner.kernel} {scanner.slice_thickness_mm:.1f}mm (independent phantom)"
    ds.PatientPosition = "FFS"
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.ConvolutionKernel = {"soft": "B20f", "standard": "B40f", "sharp": "B70f"}[scanner.kernel]
    ds.KVP, ds.SliceThickness = 120, round(scanner.slice_thickness_mm, 4)
    ds.SpacingBetweenSlices = round(scanner.slice_spacing_mm, 4)
    ds.ImageOrientationPatient = [scanner.row_direction, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [round(pixel, 6), round(pixel, 6)]
    ds.Rows = ds.Columns = scanner.matrix
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept, ds.RescaleType = scanner.rescale[0], scanner.rescale[1], "HU"
    ds.WindowCenter, ds.WindowWidth = 400, 1800
    ds.ReconstructionDiameter = round(scanner.fov_mm, 3)
    if scanner.padding_tag:
        ds.PixelPaddingValue = int(_stored(np.array([scanner.padding_hu]), case)[0])
    return ds


def _stored(hu: np.ndarray, case: Case) -> np.ndarray:
    slope, intercept = case.scanner.rescale
    return np.clip(np.round((hu - intercept) / slope), -32768, 32767).astype(np.int16)


def write_case(case: Case, folder: Path) -> tuple[Path, Path]:
    """Write ``folder/dicom/*.dcm``, ``folder/labels.nii.gz`` and ``folder/case.json``; return the first two.

    With ``row_direction`` -1 the columns run toward the patient's right (IOP -1,0,0, 0,1,0): the
    slice normal then points down, so the label map, like any reader, stacks the slices from the
    top (direction diag(-1, 1, -1), origin at the highest slice's first pixel).
    """
    dicom_dir = folder / "dicom"
    dicom_dir.mkdir(parents=True, exist_ok=True)
    grid = grid_of(case.scanner)
    flip = case.scanner.row_direction < 0
    shared = _header(case)
    labels = np.zeros((case.scanner.slices, case.scanner.matrix, case.scanner.matrix), dtype=np.uint8)
    first_x = float(grid.x[-1] if flip else grid.x[0])
    for k, hu, lab in render(case):
        labels[k] = lab
        position = (round(first_x, 4), round(float(grid.y[0]), 4), round(float(grid.z[k]), 4))
        _write_slice(case, shared, k, position, hu[:, ::-1] if flip else hu, dicom_dir / f"IM{k + 1:05d}.dcm")
    if flip:
        labels = labels[::-1, :, ::-1]
    image = sitk.GetImageFromArray(np.ascontiguousarray(labels))
    image.SetSpacing((round(grid.pixel_mm, 6), round(grid.pixel_mm, 6), case.scanner.slice_spacing_mm))
    origin = (first_x, float(grid.y[0]), float(grid.z[-1] if flip else grid.z[0]))
    image.SetOrigin(tuple(round(v, 4) for v in origin))
    sign = -1.0 if flip else 1.0
    image.SetDirection((sign, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, sign))
    label_path = folder / "labels.nii.gz"
    sitk.WriteImage(image, str(label_path), True)
    (folder / "case.json").write_text(json.dumps(asdict(case), indent=1))
    return dicom_dir, label_path


def _write_slice(
    case: Case, shared: pydicom.Dataset, k: int, position: tuple[float, float, float], hu: np.ndarray, path: Path
) -> None:
    """One CT slice file: the shared header, this slice's UIDs, position and pixels."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = _uid(case, "slice", k)
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    ds.update(shared)
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.InstanceNumber = k + 1
    ds.ImagePositionPatient = list(position)
    ds.SliceLocation = position[2]
    ds.PixelData = _stored(hu, case).tobytes()
    ds.save_as(str(path), enforce_file_format=True)
