"""Every real case in tests/data/real-dicom behaves as its README says.

Geometry is checked against the files themselves: each original slice's pixels, placed
at their own ImagePositionPatient/ImageOrientationPatient, must be found at that LPS
position in the loaded volume. The broken-series images are noise, so a placement off
by one pixel destroys the correlation; the head CT checks the real anatomy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from scipy import ndimage

from kneeseg_app.core.dicom import read_series, scan_folder
from kneeseg_app.core.dicom.gaps import find_gaps, nominal_steps
from kneeseg_app.core.dicom.geometry import layout_stack
from kneeseg_app.core.errors import DuplicateSlicesError, NotCTError, SingleSliceError, SliceGapError
from kneeseg_app.core.imageio import open_volume, read_label_map
from kneeseg_app.core.volume import Volume


def _original_slice(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(HU pixels, LPS position of every pixel) of one DICOM slice, straight from its header."""
    ds = pydicom.dcmread(path, stop_before_pixels=True)
    pixels = sitk.GetArrayFromImage(sitk.ReadImage(str(path)))[0].astype(np.float32)
    ipp = np.array(ds.ImagePositionPatient, dtype=np.float64)
    iop = np.array(ds.ImageOrientationPatient, dtype=np.float64)
    row_step, column_step = (float(v) for v in ds.PixelSpacing)
    j, i = np.mgrid[0 : pixels.shape[0], 0 : pixels.shape[1]]
    lps = ipp + i[..., None] * column_step * iop[:3] + j[..., None] * row_step * iop[3:]
    return pixels, lps


def _sample(volume: Volume, lps: np.ndarray, offset_rows: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Volume values (linear) and continuous indices at LPS points."""
    index = volume.lps_to_index(lps) + [0.0, offset_rows, 0.0]
    values = ndimage.map_coordinates(volume.array.astype(np.float32), index.reshape(-1, 3).T, order=1, mode="nearest")
    return values.reshape(lps.shape[:-1]), index


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def test_siemens_jpeg2000_abdomen_reads_with_its_geometry_and_hu(real_dicom: Path) -> None:
    volume = open_volume(real_dicom / "siemens-jpeg2000-abdomen")

    assert volume.shape == (20, 512, 512) and volume.array.dtype == np.int16
    assert volume.spacing_zyx == pytest.approx((2.0, 0.9765625, 0.9765625))
    assert (int(volume.array.min()), int(volume.array.max())) == (-1024, 1839)
    assert volume.origin_xyz == pytest.approx((-249.51171875, -437.51171875, -804.5))
    assert np.allclose(volume.direction, np.eye(3))
    assert volume.warnings == []
    assert volume.dicom is not None and volume.dicom.convolution_kernel == "Br38f/3"


def test_ge_head_gantry_tilt_is_resampled_to_the_true_geometry(real_dicom: Path) -> None:
    folder = real_dicom / "ge-head-gantry-tilt"
    volume = open_volume(folder)

    assert "Gantry tilt of 18.5°" in volume.warnings[0]
    assert "Uneven slice spacing (gaps 1.08 to 7.00 mm" in volume.warnings[1]
    assert volume.spacing_zyx[0] == pytest.approx(4.0, abs=0.01)  # a naive read says 5.627 mm
    for name, plane in (("01.dcm", 0), ("05.dcm", 4), ("14.dcm", 13), ("20.dcm", 22), ("28.dcm", 36)):
        pixels, lps = _original_slice(folder / name)
        values, index = _sample(volume, lps)
        assert np.abs(index[..., 0] - plane).max() < 0.02, name  # each real slice lies on its plane
        assert index[..., 1].min() > -0.01 and index[..., 1].max() < volume.shape[1] - 0.99, name
        assert _correlation(values, pixels) > 0.999, name
        assert np.median(np.abs(values - pixels)) <= 1.0, name


def test_ge_head_naive_series_geometry_is_wrong_where_ours_is_right(real_dicom: Path) -> None:
    """What the README warns about: ITK's series reader stacks along the normal at 5.627 mm."""
    folder = real_dicom / "ge-head-gantry-tilt"
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(folder / f"{k:02d}.dcm") for k in range(1, 29)])
    reader.SetGlobalWarningDisplay(False)
    naive = Volume.from_sitk(reader.Execute())
    ours = open_volume(folder)
    pixels, lps = _original_slice(folder / "28.dcm")

    assert naive.spacing_zyx[0] == pytest.approx(5.627, abs=1e-3)
    naive_index = naive.lps_to_index(lps)
    assert np.abs(naive_index[..., 0] - 27).max() > 1.0  # the last slice is not where the naive grid puts it
    assert _correlation(_sample(ours, lps)[0], pixels) > 0.999


def test_broken_series_gantrytilting_is_resampled_onto_each_slices_true_pixels(real_dicom: Path) -> None:
    folder = real_dicom / "broken-series" / "gantrytilting" / "001"
    volume = open_volume(folder)

    assert volume.warnings and "Gantry tilt of 14.0°" in volume.warnings[0]
    for path in sorted(folder.glob("*.dcm")):
        pixels, lps = _original_slice(path)
        assert _correlation(_sample(volume, lps)[0], pixels) > 0.8, path.name
        assert _correlation(_sample(volume, lps, offset_rows=1.0)[0], pixels) < 0.5, path.name


def test_broken_series_notavolume_is_refused_with_a_clear_message(real_dicom: Path) -> None:
    with pytest.raises(DuplicateSlicesError, match=r"^4 slices lie at the same position .*not one volume"):
        open_volume(real_dicom / "broken-series" / "notavolume" / "001")


def test_broken_series_sliceincrement_001_is_refused_naming_the_gap(real_dicom: Path) -> None:
    with pytest.raises(
        SliceGapError, match=r"^Slices are missing: a 10\.0 mm gap between z = 28\.1 mm and z = 38\.1 mm"
    ):
        open_volume(real_dicom / "broken-series" / "sliceincrement" / "001")


def test_broken_series_sliceincrement_001_when_asked_fills_the_missing_slice_and_keeps_the_real_ones(
    real_dicom: Path,
) -> None:
    folder = real_dicom / "broken-series" / "sliceincrement" / "001"
    volume = open_volume(folder, allow_gaps=True)

    assert volume.dicom is not None and volume.dicom.interpolated_slices == (3,)

    assert volume.shape == (5, 512, 512) and volume.spacing_zyx[0] == pytest.approx(5.0, abs=1e-3)
    assert "gaps 5.00, 5.00, 10.00 mm" in volume.warnings[0] and "1 slice(s) appear missing" in volume.warnings[0]
    for path, plane in zip(sorted(folder.glob("*.dcm")), (0, 1, 2, 4)):
        pixels, _ = _original_slice(path)
        assert np.array_equal(volume.array[plane], pixels), path.name


def test_broken_series_sliceincrement_002_matches_the_reference_nifti_geometry(real_dicom: Path) -> None:
    """Same grid as dicom2nifti's reference within a voxel; our slice step is the true one along the normal.

    The reference keeps the 0.778 mm table increment as its step along the tilted normal;
    the slices are 0.778 * cos(15.5°) = 0.750 mm apart along it, so its far end is 0.11 mm off.
    """
    folder = real_dicom / "broken-series" / "sliceincrement"
    with pytest.raises(SliceGapError, match="a 1.5 mm gap"):  # IM-0001-0004 is missing
        open_volume(folder / "002")
    ours = open_volume(folder / "002", allow_gaps=True)
    reference = Volume.from_sitk(sitk.ReadImage(str(folder / "002_ground_truth.nii.gz")))

    assert ours.shape == reference.shape == (5, 514, 512)
    assert ours.spacing_zyx[1:] == pytest.approx(reference.spacing_zyx[1:])
    assert np.allclose(np.abs(ours.direction), np.abs(reference.direction), atol=1e-4)
    corners = np.array([[z, y, x] for z in (0, 4) for y in (0, 513) for x in (0, 511)], dtype=np.float64)
    ours_box = ours.index_to_lps(corners)
    ref_box = reference.index_to_lps(corners)
    assert np.abs(ours_box.min(0) - ref_box.min(0)).max() < 0.5 * min(ours.spacing_zyx)
    assert np.abs(ours_box.max(0) - ref_box.max(0)).max() < 0.5 * min(ours.spacing_zyx)
    assert ours.spacing_zyx[0] == pytest.approx(0.778 * np.cos(np.radians(15.5)), abs=2e-3)
    for path in sorted((folder / "002").glob("*.dcm")):
        pixels, lps = _original_slice(path)
        assert _correlation(_sample(ours, lps)[0], pixels) > 0.8, path.name


@pytest.mark.parametrize("case", ["slicecount/001", "sliceorientation/001"])
def test_broken_series_mr_cases_are_refused_as_not_ct(real_dicom: Path, case: str) -> None:
    with pytest.raises(NotCTError, match="^This series is MR, not CT"):
        open_volume(real_dicom / "broken-series" / case)


def test_ge_abdomen_scan_finds_the_ct_in_its_subfolder_and_sets_the_seg_aside(real_dicom: Path) -> None:
    folder = real_dicom / "ge-abdomen-3slice-with-seg"
    scan = scan_folder(folder)

    (ct,) = scan.series
    assert [Path(f).relative_to(folder).as_posix() for f in ct.files] == ["ct/03.dcm", "ct/02.dcm", "ct/01.dcm"]
    (seg,) = scan.others
    assert Path(seg.files[0]).name == "liver.dcm" and "DICOM SEG" in seg.not_volume_reason
    assert scan.skipped_files == 2  # the NRRD and the licence


def test_ge_abdomen_nrrd_label_map_loads_on_the_ct_grid(real_dicom: Path) -> None:
    folder = real_dicom / "ge-abdomen-3slice-with-seg"
    ct = read_series(scan_folder(folder).best())

    labels = read_label_map(folder / "liver_seg.nrrd", reference=ct)

    assert labels.array.dtype == np.uint8 and set(np.unique(labels.array)) == {0, 1}
    assert ct.shape == (3, 512, 512) and labels.same_grid(ct, tol_mm=0.01)


def test_ct_small_single_is_refused_as_one_slice(real_dicom: Path) -> None:
    with pytest.raises(SingleSliceError, match="single slice"):
        open_volume(real_dicom / "ct-small-single.dcm")


def test_ge_head_gantry_tilt_has_two_sections_with_their_own_nominal_steps_and_no_gap(real_dicom: Path) -> None:
    """4 mm sections then 7 mm sections (with a 1.08 mm overlap): resampled geometry, not missing slices."""
    info = scan_folder(real_dicom / "ge-head-gantry-tilt").best()
    layout = layout_stack(list(info.headers))
    ordered = [info.headers[i] for i in layout.order]

    steps = nominal_steps(layout, [h.slice_thickness_mm for h in ordered])

    assert steps[:13] == pytest.approx([4.0] * 13, abs=0.01) and steps[14:] == pytest.approx([7.0] * 13, abs=0.01)
    assert find_gaps(layout, ordered) == [] and info.problem == ""
    volume = read_series(info)
    assert volume.dicom is not None and volume.dicom.filled_gaps == ()
