"""Build small synthetic DICOM folders with pydicom for tests (``from dicom_factory import ...``).

Slices are tiny (32x32 by default) so tests stay fast. Pixel values are a known
function of each pixel's LPS position (``linear_hu`` by default), so a test can check
any voxel of a loaded volume against where it really lies in the patient: a linear
function survives linear interpolation exactly, so resampled volumes can be checked
to about 1 HU.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"
SEG_STORAGE = "1.2.840.10008.5.1.4.1.1.66.4"
DOSE_SR_STORAGE = "1.2.840.10008.5.1.4.1.1.88.67"
RTSTRUCT_STORAGE = "1.2.840.10008.5.1.4.1.1.481.3"
MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"

AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)
CORONAL = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
SAGITTAL = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)


def tilted_axial(degrees: float) -> tuple[float, ...]:
    """Image orientation of an axial scan with the gantry tilted by ``degrees`` about the x axis."""
    t = np.radians(degrees)
    return (1.0, 0.0, 0.0, 0.0, float(np.cos(t)), float(-np.sin(t)))


def linear_hu(points_lps: np.ndarray) -> np.ndarray:
    """HU as a linear function of LPS position (mm): different slopes on each axis."""
    p = np.asarray(points_lps, dtype=np.float64)
    return 3.0 * p[..., 0] + 5.0 * p[..., 1] + 7.0 * p[..., 2]


@dataclass
class CTSeries:
    """One synthetic series: geometry, header facts and pixel content."""

    n_slices: int = 8
    rows: int = 32
    columns: int = 32
    pixel_spacing: tuple[float, float] = (0.7, 0.7)
    """DICOM order: (between rows, between columns)."""
    orientation: tuple[float, ...] = AXIAL
    origin: tuple[float, float, float] = (-10.0, -12.0, 30.0)
    slice_step: float = 1.0
    stack_direction: tuple[float, float, float] | None = None
    """Direction the slice positions advance in (default: the image normal; (0, 0, 1) for a tilted gantry)."""
    positions: list[tuple[float, float, float]] | None = None
    """Explicit ImagePositionPatient per slice (overrides origin/step/direction)."""
    modality: str = "CT"
    sop_class_uid: str = CT_IMAGE_STORAGE
    description: str = "Knee 1.0 Bone"
    kernel: str = "BONE"
    image_type: tuple[str, ...] = ("ORIGINAL", "PRIMARY", "AXIAL")
    series_number: int = 2
    thickness: float = 1.0
    thicknesses: list[float] | None = None
    """SliceThickness per slice (overrides ``thickness``): reconstructions of different thickness in one series."""
    rescale: tuple[float, float] = (1.0, -1024.0)
    gantry_tilt: float | None = None
    intensity: Callable[[np.ndarray], np.ndarray] = linear_hu
    series_uid: str = field(default_factory=generate_uid)
    study_uid: str = "1.2.826.0.1.3680043.8.498.1"
    patient_position: str = "FFS"
    header: dict[str, object] = field(default_factory=dict)
    """More header elements by keyword (PatientName, AccessionNumber, Laterality, ...), set on every slice."""

    # ----- geometry -----------------------------------------------------
    @property
    def row_direction(self) -> np.ndarray:
        return np.asarray(self.orientation[:3], dtype=np.float64)

    @property
    def column_direction(self) -> np.ndarray:
        return np.asarray(self.orientation[3:], dtype=np.float64)

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.row_direction, self.column_direction)

    def slice_positions(self) -> list[np.ndarray]:
        if self.positions is not None:
            return [np.asarray(p, dtype=np.float64) for p in self.positions]
        direction = np.asarray(
            self.stack_direction if self.stack_direction is not None else self.normal, dtype=np.float64
        )
        direction = direction / np.linalg.norm(direction)
        return [np.asarray(self.origin) + k * self.slice_step * direction for k in range(self.n_slices)]

    def pixel_lps(self, position: np.ndarray) -> np.ndarray:
        """(rows, columns, 3) LPS position of every pixel of a slice at ``position``."""
        j, i = np.mgrid[0 : self.rows, 0 : self.columns]
        row_step, column_step = self.pixel_spacing
        return (
            np.asarray(position)
            + i[..., None] * column_step * self.row_direction
            + j[..., None] * row_step * self.column_direction
        )

    def slice_hu(self, position: np.ndarray) -> np.ndarray:
        """The HU written for the slice at ``position`` (rounded as stored)."""
        slope, intercept = self.rescale
        stored = np.rint((self.intensity(self.pixel_lps(position)) - intercept) / slope)
        return stored * slope + intercept

    # ----- writing --------------------------------------------------------
    def dataset(self, k: int, position: np.ndarray) -> FileDataset:
        """The DICOM dataset of slice ``k`` at ``position``."""
        ds = _base_dataset(self.sop_class_uid, self.modality, self.study_uid, self.series_uid)
        ds.SeriesDescription = self.description
        ds.SeriesNumber = self.series_number
        ds.InstanceNumber = k + 1
        ds.ImageType = list(self.image_type)
        ds.ConvolutionKernel = self.kernel
        ds.SliceThickness = f"{self.thicknesses[k] if self.thicknesses else self.thickness:g}"
        ds.PatientPosition = self.patient_position
        ds.ImagePositionPatient = [_ds(v) for v in position]
        ds.ImageOrientationPatient = [_ds(v) for v in self.orientation]
        ds.PixelSpacing = [_ds(v) for v in self.pixel_spacing]
        ds.SliceLocation = _ds(float(np.asarray(position) @ self.normal))
        if self.gantry_tilt is not None:
            ds.GantryDetectorTilt = _ds(self.gantry_tilt)
        slope, intercept = self.rescale
        ds.RescaleSlope = _ds(slope)
        ds.RescaleIntercept = _ds(intercept)
        ds.RescaleType = "HU"
        stored = np.rint((self.intensity(self.pixel_lps(position)) - intercept) / slope)
        _set_pixels(ds, stored.astype(np.int16))
        for keyword, value in self.header.items():
            setattr(ds, keyword, value)
        return ds

    def write(
        self,
        folder: str | Path,
        *,
        shuffle_names: bool = False,
        extension: str = ".dcm",
        seed: int = 0,
        skip: tuple[int, ...] = (),
        preamble: bool = True,
    ) -> list[Path]:
        """Write one file per slice; returns the paths in slice order (skipped slices left out)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        rng = random.Random(seed)
        paths = []
        for k, position in enumerate(self.slice_positions()):
            if k in skip:
                continue
            name = f"{rng.getrandbits(40):010X}" if shuffle_names else f"IM{k + 1:04d}"
            path = folder / f"{name}{extension}"
            write_dataset(self.dataset(k, position), path, preamble=preamble)
            paths.append(path)
        return paths

    def but(self, **changes: object) -> CTSeries:
        """A copy with some fields changed (a new series UID unless given)."""
        changes.setdefault("series_uid", generate_uid())
        return replace(self, **changes)  # type: ignore[arg-type]


def _ds(value: float) -> str:
    """A DS string of at most 16 characters that keeps sub-micrometre precision."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if len(text) <= 16 else f"{value:.8g}"


def _base_dataset(sop_class: str, modality: str, study_uid: str, series_uid: str) -> FileDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", Dataset(), file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = modality
    ds.PatientName = "TEST^KNEE"
    ds.PatientID = "TEST0001"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = study_uid + ".9"  # one patient coordinate system per study, as scanners do
    ds.Manufacturer = "KneeSeg test factory"
    return ds


def _set_pixels(ds: Dataset, pixels: np.ndarray) -> None:
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    ds.PixelRepresentation = 1
    ds.PixelData = np.ascontiguousarray(pixels, dtype="<i2").tobytes()


def write_dataset(ds: FileDataset, path: str | Path, *, preamble: bool = True) -> Path:
    """Write ``ds``; ``preamble=False`` writes a bare implicit-VR dataset (no 'DICM', no meta) as old exports do."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if preamble:
        ds.save_as(path, enforce_file_format=True)
    else:
        ds.preamble = None
        ds.file_meta = FileMetaDataset()
        pydicom.dcmwrite(path, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
    return path


# ----- objects that are not image volumes -----------------------------------
def write_localizer(folder: str | Path, study_uid: str = CTSeries.study_uid, name: str = "SCOUT1") -> Path:
    """A one-slice coronal topogram (ImageType LOCALIZER), 64x32."""
    scout = CTSeries(
        n_slices=1,
        rows=32,
        columns=64,
        orientation=CORONAL,
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
        description="Topogram 0.6 T20f",
        series_number=1,
        study_uid=study_uid,
    )
    return scout.write(folder, extension="")[0].rename(Path(folder) / name)


def write_secondary_capture(folder: str | Path, study_uid: str = CTSeries.study_uid) -> Path:
    """A 'Dose Report' screenshot stored as Secondary Capture with modality CT."""
    ds = _base_dataset(SECONDARY_CAPTURE, "CT", study_uid, generate_uid())
    ds.SeriesDescription = "Dose Report"
    ds.SeriesNumber = 999
    ds.ImageType = ["DERIVED", "SECONDARY", "OTHER"]
    _set_pixels(ds, np.zeros((32, 48), dtype=np.int16))
    return write_dataset(ds, Path(folder) / "DOSE0001")


def write_dose_sr(folder: str | Path, study_uid: str = CTSeries.study_uid) -> Path:
    """An X-ray radiation dose structured report (no pixels)."""
    ds = _base_dataset(DOSE_SR_STORAGE, "SR", study_uid, generate_uid())
    ds.SeriesDescription = "Radiation Dose Information"
    ds.SeriesNumber = 998
    return write_dataset(ds, Path(folder) / "SR000001")


def write_seg(folder: str | Path, study_uid: str = CTSeries.study_uid, frames: int = 4) -> Path:
    """A minimal DICOM SEG-like object: multi-frame, 1-bit pixels, SEG SOP class."""
    ds = _base_dataset(SEG_STORAGE, "SEG", study_uid, generate_uid())
    ds.SeriesDescription = "Bone segmentation"
    ds.SeriesNumber = 300
    ds.ImageType = ["DERIVED", "PRIMARY"]
    ds.NumberOfFrames = frames
    ds.Rows, ds.Columns = 32, 32
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 1
    ds.BitsStored = 1
    ds.HighBit = 0
    ds.PixelRepresentation = 0
    ds.PixelData = bytes(32 * 32 * frames // 8)
    return write_dataset(ds, Path(folder) / "seg.dcm")


def write_rtstruct(folder: str | Path, study_uid: str = CTSeries.study_uid) -> Path:
    """An RT structure set header (contours are irrelevant to scanning)."""
    ds = _base_dataset(RTSTRUCT_STORAGE, "RTSTRUCT", study_uid, generate_uid())
    ds.SeriesDescription = "Contours"
    ds.SeriesNumber = 301
    return write_dataset(ds, Path(folder) / "rtstruct.dcm")


def write_dicomdir_stub(folder: str | Path) -> Path:
    """A file named DICOMDIR with the Media Storage Directory SOP class (its records are not needed)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MEDIA_STORAGE_DIRECTORY
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset("", Dataset(), file_meta=meta, preamble=b"\0" * 128)
    ds.FileSetID = "KNEE"
    return write_dataset(ds, Path(folder) / "DICOMDIR")


def truncate(path: str | Path, keep_fraction: float = 0.5) -> Path:
    """Cut a file to a fraction of its size (a broken copy from CD)."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def truncate_pixels(path: str | Path, keep_pixel_bytes: int = 16) -> Path:
    """Keep the whole header and only the first bytes of the pixel data."""
    path = Path(path)
    data = path.read_bytes()
    start = data.rfind(b"\xe0\x7f\x10\x00")
    path.write_bytes(data[: start + 12 + keep_pixel_bytes])
    return path


def truncate_header(path: str | Path, cut_bytes: int = 30) -> Path:
    """End the file a few bytes before its pixel data: the image geometry is there, the pixels are not."""
    path = Path(path)
    data = path.read_bytes()
    start = data.rfind(b"\xe0\x7f\x10\x00")
    path.write_bytes(data[: start - cut_bytes])
    return path


def write_presentation_state(folder: str | Path, study_uid: str = CTSeries.study_uid) -> Path:
    """A grayscale softcopy presentation state (window settings and annotations, no pixels)."""
    ds = _base_dataset("1.2.840.10008.5.1.4.1.1.11.1", "PR", study_uid, generate_uid())
    ds.SeriesDescription = "Annotations"
    ds.SeriesNumber = 302
    return write_dataset(ds, Path(folder) / "pr.dcm")


# ----- files a decoder must not be trusted with --------------------------------
def write_short_pixel_data(
    folder: str | Path, series: CTSeries | None = None, keep_fraction: float = 0.14
) -> list[Path]:
    """A series whose middle slice's Pixel Data holds only ``keep_fraction`` of the bytes its header announces.

    The element's own length says so (the file is not cut off), as in fo-dicom's GH1376
    test file: a decoder that trusts rows x columns fills the rest with whatever memory held.
    """
    series = series or CTSeries(n_slices=5)
    paths = series.write(folder)
    middle = paths[len(paths) // 2]
    ds = pydicom.dcmread(middle)
    data = bytes(ds.PixelData)
    ds.PixelData = data[: int(len(data) * keep_fraction) // 2 * 2]
    ds.save_as(middle, enforce_file_format=True)
    return paths


def write_single_short_pixel_data(path: str | Path, keep_fraction: float = 0.14) -> Path:
    """One CT slice (128x128) whose Pixel Data element holds too few bytes (a GH1376-like file)."""
    series = CTSeries(n_slices=1, rows=128, columns=128)
    ds = series.dataset(0, series.slice_positions()[0])
    data = bytes(ds.PixelData)
    ds.PixelData = data[: int(len(data) * keep_fraction) // 2 * 2]
    return write_dataset(ds, path)


def write_elscint_compressed(folder: str | Path, n_slices: int = 4) -> list[Path]:
    """Slices as ELSCINT1 scanners store them with PMSCT_RLE1: private compressed bytes, a short Pixel Data."""
    series = CTSeries(n_slices=n_slices)
    paths = []
    for k, position in enumerate(series.slice_positions()):
        ds = series.dataset(k, position)
        block = ds.private_block(0x07A1, "ELSCINT1", create=True)
        block.add_new(0x11, "CS", "PMSCT_RLE1")
        block.add_new(0x0A, "OB", b"\x00\x80" * 100)  # stands in for the private run-length stream
        ds.PixelData = bytes(200)
        paths.append(write_dataset(ds, Path(folder) / f"EL{k + 1:04d}"))
    return paths


def write_header_only(folder: str | Path, n_slices: int = 3) -> list[Path]:
    """A 'headers only' export: complete image headers, no Pixel Data element at all."""
    series = CTSeries(n_slices=n_slices)
    paths = []
    for k, position in enumerate(series.slice_positions()):
        ds = series.dataset(k, position)
        del ds.PixelData
        paths.append(write_dataset(ds, Path(folder) / f"HDR{k + 1:04d}"))
    return paths


# ----- Enhanced (multi-frame) CT --------------------------------------------------
ENHANCED_CT_STORAGE = "1.2.840.10008.5.1.4.1.1.2.1"
ENHANCED_ENCODINGS = ("explicit", "implicit", "deflated", "rle", "jpeg-lossless", "jpeg2000")


def write_enhanced_ct(
    series: CTSeries,
    path: str | Path,
    encoding: str = "explicit",
    per_frame_rescale: list[tuple[float, float]] | None = None,
    frame_order: list[int] | None = None,
) -> Path:
    """The slices of ``series`` as one Enhanced CT file with per-frame functional groups.

    Positions go in each frame's Plane Position; orientation, pixel spacing and thickness
    in the shared groups; the rescale is shared unless ``per_frame_rescale`` gives one per
    frame. ``frame_order`` stores the slices in another order (scanners do). Encodings:
    see ENHANCED_ENCODINGS (JPEG frames are encoded by GDCM through SimpleITK).
    """
    positions = series.slice_positions()
    order = [int(k) for k in frame_order] if frame_order else list(range(len(positions)))
    rescales = per_frame_rescale or [series.rescale] * len(positions)
    stored = []
    for k in order:
        slope, intercept = rescales[k]
        hu = series.intensity(series.pixel_lps(positions[k]))
        stored.append(np.rint((hu - intercept) / slope).astype(np.int16))
    ds = _base_dataset(ENHANCED_CT_STORAGE, series.modality, series.study_uid, series.series_uid)
    ds.SeriesDescription = series.description
    ds.SeriesNumber = series.series_number
    ds.InstanceNumber = 1
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.NumberOfFrames = len(order)
    ds.SharedFunctionalGroupsSequence = [
        _item(
            PlaneOrientationSequence=[_item(ImageOrientationPatient=[_ds(v) for v in series.orientation])],
            PixelMeasuresSequence=[
                _item(PixelSpacing=[_ds(v) for v in series.pixel_spacing], SliceThickness=_ds(series.thickness))
            ],
            **({} if per_frame_rescale else {"PixelValueTransformationSequence": [_rescale_item(*series.rescale)]}),
        )
    ]
    ds.PerFrameFunctionalGroupsSequence = [
        _item(
            PlanePositionSequence=[_item(ImagePositionPatient=[_ds(v) for v in positions[k]])],
            FrameContentSequence=[_item(InStackPositionNumber=int(k) + 1)],
            **({"PixelValueTransformationSequence": [_rescale_item(*rescales[k])]} if per_frame_rescale else {}),
        )
        for k in order
    ]
    _set_pixels(ds, np.concatenate(stored, axis=0))
    ds.Rows, ds.Columns = series.rows, series.columns
    _encode(ds, np.stack(stored), encoding)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def _item(**values: object) -> Dataset:
    item = Dataset()
    for keyword, value in values.items():
        setattr(item, keyword, value)
    return item


def _rescale_item(slope: float, intercept: float) -> Dataset:
    return _item(RescaleSlope=_ds(slope), RescaleIntercept=_ds(intercept), RescaleType="HU")


def _encode(ds: FileDataset, frames: np.ndarray, encoding: str) -> None:
    from pydicom.encaps import encapsulate
    from pydicom.uid import (
        DeflatedExplicitVRLittleEndian,
        ImplicitVRLittleEndian,
        JPEG2000Lossless,
        JPEGLosslessSV1,
        RLELossless,
    )

    if encoding == "explicit":
        return
    if encoding in ("implicit", "deflated"):
        ds.file_meta.TransferSyntaxUID = (
            ImplicitVRLittleEndian if encoding == "implicit" else DeflatedExplicitVRLittleEndian
        )
        return
    if encoding == "rle":
        ds.compress(RLELossless, frames)
        return
    syntax, compressor = {"jpeg-lossless": (JPEGLosslessSV1, "JPEG"), "jpeg2000": (JPEG2000Lossless, "JPEG2000")}[
        encoding
    ]
    ds.PixelData = encapsulate([_gdcm_frame(frame, compressor) for frame in frames])
    ds["PixelData"].VR = "OB"
    ds.file_meta.TransferSyntaxUID = syntax


def _gdcm_frame(frame: np.ndarray, compressor: str) -> bytes:
    """One frame compressed by GDCM (SimpleITK writes a one-slice file; its fragment is the frame)."""
    import tempfile

    import SimpleITK as sitk
    from pydicom.encaps import generate_frames

    with tempfile.TemporaryDirectory() as folder:
        target = str(Path(folder) / "frame.dcm")
        writer = sitk.ImageFileWriter()
        writer.SetImageIO("GDCMImageIO")
        writer.SetFileName(target)
        writer.UseCompressionOn()
        writer.SetCompressor(compressor)
        writer.Execute(sitk.GetImageFromArray(frame[None]))
        return next(generate_frames(pydicom.dcmread(target).PixelData, number_of_frames=1))
