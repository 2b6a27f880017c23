"""Open a CT (DICOM folder or file, NIfTI, NRRD, MHA) and read/write label maps.

Everything a user points KneeSeg at goes through :func:`open_volume`; label maps are
checked against their CT (whole numbers, non-negative, same grid) so a reference
segmentation never silently lands on the wrong voxels, and results are written
atomically, never into the user's input folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from kneeseg_app.core.atomic import atomic_path
from kneeseg_app.core.dicom.headers import looks_like_dicom
from kneeseg_app.core.dicom.read import read_series
from kneeseg_app.core.dicom.scan import SeriesInfo, scan_folder
from kneeseg_app.core.errors import EmptyFolderError, InputError, LabelMapError, OutputError, SingleSliceError
from kneeseg_app.core.grid import grid_difference, require_same_grid
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress, scaled
from kneeseg_app.core.protection import refuse_input_folders
from kneeseg_app.core.volume import Volume

VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
LABEL_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")

__all__ = ["grid_difference", "open_volume", "read_label_map", "require_same_grid", "write_label_map"]


def volume_suffix(path: str | os.PathLike[str]) -> str:
    """The image-format suffix of ``path`` ('.nii.gz', '.nrrd', ...) or '' if none is known."""
    name = Path(path).name.lower()
    return next((s for s in VOLUME_SUFFIXES if name.endswith(s)), "")


def open_volume(
    path: str | os.PathLike[str],
    series_uid: str | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    allow_gaps: bool = False,
) -> Volume:
    """Open what a user points at: a DICOM folder (best or chosen series), a DICOM file, or a volume file.

    ``series_uid`` selects a series of a folder by UID, key or list number (1 = best);
    ``allow_gaps`` fills missing slices by interpolation instead of refusing (see dicom.gaps).
    """
    target = Path(path)
    if not target.exists():
        if volume_suffix(target) or target.suffix:
            raise InputError(f"The file {target} does not exist.")
        raise EmptyFolderError(f"The folder {target} does not exist.")
    if target.is_file() and target.name.upper() == "DICOMDIR":
        target = target.parent  # the index of a CD: its folder holds the series
    if target.is_dir():
        scan = scan_folder(target, scaled(progress, 0.0, 0.1), cancel)
        series = scan.find(series_uid) if series_uid else scan.best()
        volume = read_series(series, scaled(progress, 0.1, 1.0), cancel, allow_gaps=allow_gaps)
        return _with_scan_warnings(volume, scan.unreadable_files, series)
    if volume_suffix(target):
        return read_volume_file(target)
    if looks_like_dicom(str(target)):
        return _open_dicom_file(target, progress, cancel, allow_gaps)
    raise InputError(f"{target.name} is neither a DICOM file nor a NIfTI, NRRD or MHA volume.")


def _open_dicom_file(
    path: Path, progress: ProgressCallback, cancel: CancelToken | None, allow_gaps: bool = False
) -> Volume:
    """A lone DICOM file stands for its series: the files of the same series in its folder."""
    scan = scan_folder(path.parent, scaled(progress, 0.0, 0.1), cancel)
    resolved = os.path.realpath(path)
    for info in [*scan.series, *scan.others]:
        if any(os.path.realpath(f) == resolved for f in info.files):
            return read_series(info, scaled(progress, 0.1, 1.0), cancel, allow_gaps=allow_gaps)
    if str(path) in scan.unreadable_files:
        raise InputError(f"The DICOM file {path.name} cannot be read: {scan.why_unreadable(str(path))}.")
    raise SingleSliceError(f"The file {path.name} is a single DICOM object, not a 3D volume.")


def _with_scan_warnings(volume: Volume, unreadable: list[str], series: SeriesInfo) -> Volume:
    others = [p for p in unreadable if p not in series.unreadable_files]
    if others:
        volume.warnings.append(
            f"{len(others)} other file(s) in the folder could not be read and were ignored (first: {Path(others[0]).name})."
        )
    return volume


def read_volume_file(path: str | os.PathLike[str]) -> Volume:
    """A NIfTI/NRRD/MHA file as a Volume (geometry in LPS as SimpleITK reads it)."""
    image = _read_image(Path(path))
    volume = Volume.from_sitk(image, source=str(path))
    if volume.array.dtype == np.float64:
        volume.array = volume.array.astype(np.float32)
    return volume


def _read_image(path: Path) -> sitk.Image:
    if not path.is_file():
        raise InputError(f"The file {path} does not exist.")
    try:
        image = sitk.ReadImage(str(path))
    except RuntimeError as exc:
        raise InputError(f"The file {path.name} cannot be read as an image (corrupt or unsupported format).") from exc
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(
            f"The file {path.name} holds {image.GetNumberOfComponentsPerPixel()} values per voxel, not a scalar image."
        )
    if image.GetDimension() == 4 and image.GetSize()[3] == 1:
        image = image[:, :, :, 0]
    if image.GetDimension() != 3:
        raise InputError(f"The file {path.name} is a {image.GetDimension()}D image; a 3D volume is needed.")
    return image


def is_dicom_seg_path(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a DICOM object (a DICOM SEG when given as a reference), not a volume file."""
    target = Path(path)
    return target.is_file() and not volume_suffix(target) and looks_like_dicom(str(target))


def read_label_map(path: str | os.PathLike[str], reference: Volume | None = None) -> Volume:
    """A label map (uint8) checked for whole non-negative labels and, given a CT, for the same grid.

    The one reader of references for the CLI (``--reference``), the window, the batch and
    the trainer: NIfTI/NRRD/MHA files, or a DICOM SEG of ``reference`` (which needs the CT,
    as its frames are placed on the CT's slices).
    """
    path = Path(path)
    if is_dicom_seg_path(path):
        return _read_dicom_seg(path, reference)
    labels = read_volume_file(path)
    array = labels.array
    if np.issubdtype(array.dtype, np.floating) and not np.array_equal(array, np.rint(array)):
        raise LabelMapError(f"{path.name} holds fractional values, so it is not a label map (a probability map?).")
    if array.size and float(array.min()) < 0:
        raise LabelMapError(
            f"{path.name} holds negative values ({float(array.min()):.0f}); labels are 0 (background) or positive."
        )
    if array.size and float(array.max()) > 255:
        raise LabelMapError(f"{path.name} holds label {float(array.max()):.0f}; labels above 255 are not supported.")
    labels.array = array.astype(np.uint8, copy=False)
    if reference is not None:
        require_same_grid(labels, reference, what=path.name)
    return labels


def _read_dicom_seg(path: Path, reference: Volume | None) -> Volume:
    from kneeseg_app.core.dicom.seg_read import read_dicom_seg

    if reference is None:
        raise LabelMapError(f"{path.name} is a DICOM file; a DICOM SEG can only be read together with its CT.")
    labels = read_dicom_seg(path, reference)
    require_same_grid(labels, reference, what=path.name)
    return labels


def write_label_map(
    labels: Volume,
    path: str | os.PathLike[str],
    overwrite: bool = False,
    protected: tuple[str | os.PathLike[str], ...] | list[str | os.PathLike[str]] = (),
) -> Path:
    """Write ``labels`` as uint8 in its own (the source CT's) geometry, atomically.

    Refuses to write inside ``protected`` folders and, for a volume read from DICOM,
    inside the folders of its source files.
    """
    target = Path(path)
    if target.name.lower().endswith(".nhdr") or not any(target.name.lower().endswith(s) for s in LABEL_SUFFIXES):
        raise OutputError(f"{target.name}: choose a .nii.gz, .nii, .nrrd or .mha file name for the label map.")
    refuse_input_folders(target, protected, labels)
    array = labels.array
    if array.size and (not np.issubdtype(array.dtype, np.integer) and not np.array_equal(array, np.rint(array))):
        raise LabelMapError("The label map holds fractional values; labels must be whole numbers.")
    if array.size and (float(array.min()) < 0 or float(array.max()) > 255):
        raise LabelMapError("The label map holds values outside 0..255, which uint8 cannot store.")
    image = labels.with_array(array.astype(np.uint8, copy=False)).to_sitk()
    with atomic_path(target, overwrite=overwrite) as tmp:
        try:
            sitk.WriteImage(image, str(tmp), useCompression=not target.name.lower().endswith(".nii"))
        except RuntimeError as exc:
            # ITK's message names the hidden temporary file, which means nothing to the user
            raise OutputError(f"Cannot write {target}: the image writer failed (disk full or no permission?).") from exc
    return target
