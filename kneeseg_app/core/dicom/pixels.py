"""Decode the pixels of sorted slices into HU, checking each file before it is decoded.

Classic slices are decoded by SimpleITK/GDCM one file at a time (every transfer syntax
GDCM knows; GDCM applies RescaleSlope/Intercept). Before any decoder sees a file whose
pixels are stored uncompressed, the length of its Pixel Data is checked against rows,
columns, bits allocated, samples and frames: a decoder given too few bytes returns
uninitialised memory as HU. Frames of an enhanced (multi-frame) file are decoded once
per file (see ``frames``) and placed at their own sorted positions.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import SimpleITK as sitk

from kneeseg_app.core.dicom.headers import SliceHeader
from kneeseg_app.core.errors import UnreadableFileError
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress

_INT16 = np.iinfo(np.int16)

DEFLATED = "1.2.840.10008.1.2.1.99"
UNCOMPRESSED_SYNTAXES = (
    "1.2.840.10008.1.2",  # implicit VR little endian
    "1.2.840.10008.1.2.1",  # explicit VR little endian
    "1.2.840.10008.1.2.2",  # explicit VR big endian (retired)
    DEFLATED,  # deflated explicit VR little endian: deflated as a whole, pixels stored plainly
)


def expected_pixel_bytes(header: SliceHeader) -> int:
    """Bytes the header announces for all frames of uncompressed pixel data."""
    bits = header.bits_allocated or 16
    count = header.rows * header.columns * max(header.samples_per_pixel, 1) * max(header.number_of_frames, 1)
    return (count * bits + 7) // 8


def check_before_decoding(header: SliceHeader) -> None:
    """Raise UnreadableFileError, in words, for a file no decoder must be given."""
    name = Path(header.path).name
    if header.private_compression:
        raise UnreadableFileError(
            f"The file {name} is compressed with {header.private_compression}, a manufacturer's private scheme that "
            "KneeSeg cannot decode; export the series uncompressed or with a standard DICOM compression."
        )
    if header.transfer_syntax not in UNCOMPRESSED_SYNTAXES or not (
        header.bits_allocated and header.rows and header.columns
    ):
        return  # compressed (the decoder checks its own output), or nothing announced to check against
    if header.transfer_syntax == DEFLATED and header.pixel_data_length is None:
        header = _with_inflated_length(header)
    if header.pixel_data_length is None:
        return
    expected = expected_pixel_bytes(header)
    frames = f" in {header.number_of_frames} frames" if header.number_of_frames > 1 else ""
    announced = (
        f"{header.columns}x{header.rows} pixels of {header.bits_allocated or 16} bits"
        f"{f' x {header.samples_per_pixel} samples' if header.samples_per_pixel > 1 else ''}{frames}"
    )
    if header.pixel_data_length < expected:
        raise UnreadableFileError(
            f"The file {name} holds {header.pixel_data_length} bytes of pixel data where its header announces "
            f"{announced} ({expected} bytes), so part of the image is missing."
        )
    if header.pixel_data_available is not None and header.pixel_data_available < expected:
        raise UnreadableFileError(
            f"The file {name} ends after {header.pixel_data_available} of the {expected} bytes of pixel data its header "
            "announces (truncated)."
        )


def _with_inflated_length(header: SliceHeader) -> SliceHeader:
    """A deflated file's pixel data length is only known once the dataset is inflated (rare: read it whole)."""
    try:
        ds = pydicom.dcmread(header.path, force=True)
        length = len(ds.PixelData)
    except Exception as exc:  # noqa: BLE001 - a corrupt deflate stream makes pydicom raise anything
        raise UnreadableFileError(
            f"The file {Path(header.path).name} cannot be inflated (truncated or corrupt)."
        ) from exc
    return replace(header, pixel_data_length=length, pixel_data_available=length)


def read_pixels(
    headers: list[SliceHeader],
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> tuple[np.ndarray, dict[int, str]]:
    """Decode every slice in order into one (k, rows, columns) array of HU.

    int16 while every slice holds whole HU within int16 (CT almost always), else float32;
    failed slices are left as zeros and returned as {index: reason}.
    """
    from kneeseg_app.core.dicom.frames import decode_frames

    rows, columns = headers[0].rows, headers[0].columns
    out = np.zeros((len(headers), rows, columns), dtype=np.int16)
    failed: dict[int, str] = {}
    multi_frame: dict[str, list[int]] = {}
    done = 0
    for k, header in enumerate(headers):
        if header.frame is not None:
            multi_frame.setdefault(header.path, []).append(k)
            continue
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            out = _place(out, k, decode_slice(header))
        except UnreadableFileError as exc:
            failed[k] = str(exc)
        done += 1
        progress("Reading slices", done / len(headers))
    for indices in multi_frame.values():
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            frames = decode_frames([headers[k] for k in indices])
        except UnreadableFileError as exc:
            failed.update({k: str(exc) for k in indices})
        else:
            for k, pixels in zip(indices, frames):
                out = _place(out, k, pixels)
        done += len(indices)
        progress("Reading slices", done / len(headers))
    return out, failed


def _place(out: np.ndarray, k: int, pixels: np.ndarray) -> np.ndarray:
    if out.dtype == np.int16 and not fits_int16(pixels):
        out = out.astype(np.float32)
    out[k] = pixels
    return out


def decode_slice(header: SliceHeader) -> np.ndarray:
    """One classic slice in HU (GDCM applies RescaleSlope/Intercept), shape (rows, columns)."""
    check_before_decoding(header)
    path, rows, columns = header.path, header.rows, header.columns
    reader = sitk.ImageFileReader()
    reader.SetImageIO("GDCMImageIO")
    reader.SetFileName(path)
    try:
        image = reader.Execute()
    except RuntimeError as exc:
        raise UnreadableFileError(
            f"The file {Path(path).name} cannot be decoded (truncated, corrupt or an unsupported compression)."
        ) from exc
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise UnreadableFileError(f"The file {Path(path).name} is a colour image, not a CT slice.")
    pixels = sitk.GetArrayFromImage(image)
    if pixels.size != rows * columns:
        raise UnreadableFileError(
            f"The file {Path(path).name} holds {pixels.size} pixels where its header announces {columns}x{rows}."
        )
    pixels = pixels.reshape(rows, columns)
    return pixels if pixels.dtype != np.float64 else pixels.astype(np.float32)


def fits_int16(pixels: np.ndarray) -> bool:
    """True when ``pixels`` can be stored as int16 without losing anything."""
    if pixels.dtype == np.int16 or pixels.size == 0:
        return True
    low, high = float(pixels.min()), float(pixels.max())
    if low < _INT16.min or high > _INT16.max:
        return False
    return bool(np.issubdtype(pixels.dtype, np.integer) or np.array_equal(pixels, np.rint(pixels)))
