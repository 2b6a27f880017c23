"""Writing a CT volume as a DICOM series that standard readers load back exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk

from kneeseg_app.core.dicom.write import write_dicom_series
from kneeseg_app.core.errors import Cancelled, OutputError
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.progress import CancelToken
from kneeseg_app.core.volume import Volume


@pytest.fixture(scope="module")
def phantom_ct() -> Volume:
    return generate_phantom(3, shape_zyx=(24, 64, 80), spacing_zyx=(2.5, 0.9, 0.8)).ct


def read_series(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def test_series_reads_back_through_simpleitk_with_the_same_voxels_and_geometry(
    phantom_ct: Volume, tmp_path: Path
) -> None:
    files = write_dicom_series(phantom_ct, tmp_path / "ct", seed=3)
    assert len(files) == phantom_ct.shape[0] and all(f.is_file() for f in files)
    image = read_series(tmp_path / "ct")
    assert np.array_equal(sitk.GetArrayFromImage(image), phantom_ct.array)
    assert np.allclose(image.GetSpacing(), phantom_ct.spacing_xyz, atol=1e-5)
    assert np.allclose(image.GetOrigin(), phantom_ct.origin_xyz, atol=1e-5)
    assert np.allclose(np.reshape(image.GetDirection(), (3, 3)), phantom_ct.direction)


def test_headers_describe_a_ct_image_series(phantom_ct: Volume, tmp_path: Path) -> None:
    files = write_dicom_series(
        phantom_ct,
        tmp_path / "ct",
        series_description="Knee test",
        patient_id="P-1",
        kernel="BONE",
        patient_position="HFS",
        seed=1,
    )
    slices = [pydicom.dcmread(f) for f in files]
    first = slices[0]
    assert first.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2" and first.Modality == "CT"
    assert first.SeriesDescription == "Knee test" and first.PatientID == "P-1" and first.PatientName == "PHANTOM^KNEE"
    assert (
        first.ConvolutionKernel == "BONE" and first.PatientPosition == "HFS" and first.Manufacturer == "KneeSeg phantom"
    )
    assert [float(v) for v in first.PixelSpacing] == pytest.approx([0.9, 0.8])
    assert float(first.SliceThickness) == pytest.approx(2.5)
    assert [float(v) for v in first.ImageOrientationPatient] == [1, 0, 0, 0, 1, 0]
    assert (
        float(first.RescaleSlope) == 1.0 and float(first.RescaleIntercept) == -1024.0 and first.PixelRepresentation == 0
    )
    assert [s.InstanceNumber for s in slices] == list(range(1, len(files) + 1))
    z = [float(s.ImagePositionPatient[2]) for s in slices]
    assert np.allclose(np.diff(z), 2.5, atol=1e-5)
    assert len({s.SOPInstanceUID for s in slices}) == len(files)
    assert len({s.SeriesInstanceUID for s in slices}) == 1 and len({s.StudyInstanceUID for s in slices}) == 1


def test_values_below_minus_1024_are_stored_as_signed_pixels(tmp_path: Path) -> None:
    array = np.full((3, 16, 16), -3024, np.int16)
    array[:, 4:12, 4:12] = 1500
    volume = Volume(array, (1.0, 0.5, 0.5), (10.0, -20.0, 30.0))
    files = write_dicom_series(volume, tmp_path / "ct")
    assert pydicom.dcmread(files[0]).PixelRepresentation == 1
    assert np.array_equal(sitk.GetArrayFromImage(read_series(tmp_path / "ct")), array)


def test_uids_follow_the_seed_and_are_random_without_one(phantom_ct: Volume, tmp_path: Path) -> None:
    def uids(folder: str, seed: int | None) -> tuple[str, str]:
        first = pydicom.dcmread(write_dicom_series(phantom_ct, tmp_path / folder, seed=seed)[0])
        return first.SeriesInstanceUID, first.SOPInstanceUID

    assert uids("a", 7) == uids("b", 7)
    assert uids("c", 7) != uids("d", 8)
    assert uids("e", None) != uids("f", None)


def test_an_existing_series_is_kept_unless_overwriting_is_allowed(phantom_ct: Volume, tmp_path: Path) -> None:
    target = tmp_path / "ct"
    write_dicom_series(phantom_ct, target, seed=1)
    with pytest.raises(OutputError):
        write_dicom_series(phantom_ct, target, seed=2)
    assert (
        pydicom.dcmread(next(target.iterdir())).SeriesInstanceUID
        == pydicom.dcmread(write_dicom_series(phantom_ct, tmp_path / "same", seed=1)[0]).SeriesInstanceUID
    )
    write_dicom_series(phantom_ct, target, seed=2, overwrite=True)
    assert len(list(target.iterdir())) == phantom_ct.shape[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ct", "same"], "no temporary folders left behind"


def test_a_cancelled_write_leaves_nothing_behind(phantom_ct: Volume, tmp_path: Path) -> None:
    token = CancelToken()
    calls = []

    def cancel_midway(stage: str, fraction: float) -> None:
        calls.append(fraction)
        if fraction > 0.3:
            token.cancel()

    with pytest.raises(Cancelled):
        write_dicom_series(phantom_ct, tmp_path / "ct", progress=cancel_midway, cancel=token)
    assert calls and list(tmp_path.iterdir()) == []


def test_refuses_to_write_into_a_protected_input_folder(phantom_ct: Volume, tmp_path: Path) -> None:
    with pytest.raises(OutputError):
        write_dicom_series(phantom_ct, tmp_path / "input" / "copy", protected=[tmp_path / "input"])
