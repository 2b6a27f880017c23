"""Enhanced (multi-frame) CT reads exactly as the same frames stored as classic slices.

A knee phantom is written twice by the test factory: as classic single-slice files and
as one Enhanced CT object (per-frame positions, shared orientation and pixel measures,
frames stored out of order) in every encoding GDCM or pydicom decodes. Both must give
the same voxels on the same grid, and the enhanced file passes the same geometry
checks (tilt, gaps, duplicates, pixel data length) as a classic series.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import ENHANCED_ENCODINGS, CTSeries, linear_hu, tilted_axial, write_dataset, write_enhanced_ct

from kneeseg_app.core.dicom import read_series, scan_folder
from kneeseg_app.core.errors import DuplicateSlicesError, NoImageSeriesError, SliceGapError, UnreadableFileError
from kneeseg_app.core.imageio import open_volume
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.volume import Volume


@pytest.fixture(scope="module")
def phantom_series() -> CTSeries:
    """A knee phantom as a CT series: each pixel holds the phantom's HU at its own position."""
    ct = generate_phantom(3, shape_zyx=(18, 40, 40), spacing_zyx=(2.5, 2.0, 2.0)).ct
    hu = np.rint(ct.array).astype(np.float64)

    def intensity(points_lps: np.ndarray) -> np.ndarray:
        index = np.clip(np.rint(ct.lps_to_index(points_lps)).astype(int), 0, np.array(ct.shape) - 1)
        return hu[index[..., 0], index[..., 1], index[..., 2]]

    return CTSeries(
        n_slices=ct.shape[0],
        rows=ct.shape[1],
        columns=ct.shape[2],
        pixel_spacing=(2.0, 2.0),
        slice_step=2.5,
        thickness=2.5,
        origin=ct.origin_xyz,
        intensity=intensity,
        description="Knee phantom",
    )


def _same_volume(a: Volume, b: Volume) -> None:
    assert a.shape == b.shape and a.array.dtype == b.array.dtype
    assert np.array_equal(a.array, b.array)
    assert a.spacing_zyx == pytest.approx(b.spacing_zyx) and a.origin_xyz == pytest.approx(b.origin_xyz)
    assert np.allclose(a.direction, b.direction)


@pytest.mark.parametrize("encoding", ENHANCED_ENCODINGS)
def test_an_enhanced_ct_reads_voxel_for_voxel_as_its_frames_written_as_classic_slices(
    tmp_path: Path, phantom_series: CTSeries, encoding: str
) -> None:
    phantom_series.write(tmp_path / "classic")
    shuffled = list(np.random.default_rng(0).permutation(phantom_series.n_slices))
    enhanced = write_enhanced_ct(phantom_series, tmp_path / "enhanced" / "CT.dcm", encoding, frame_order=shuffled)

    scan = scan_folder(tmp_path / "enhanced")
    (info,) = scan.series
    volume = read_series(info)

    assert (scan.dicom_files, info.n_slices, info.modality, scan.others) == (1, phantom_series.n_slices, "CT", [])
    _same_volume(volume, open_volume(tmp_path / "classic"))
    assert volume.warnings == [] and volume.dicom is not None and volume.dicom.files == (str(enhanced),)
    assert volume.source == str(tmp_path / "enhanced")


def test_a_rescale_of_its_own_for_every_frame_is_applied_frame_by_frame(tmp_path: Path) -> None:
    series = CTSeries(n_slices=5)
    rescales = [(1.0, -1024.0), (2.0, -1000.0), (0.5, -2048.0), (1.0, 0.0), (4.0, -3000.0)]
    write_enhanced_ct(series, tmp_path / "a" / "CT.dcm", per_frame_rescale=rescales)
    write_enhanced_ct(series, tmp_path / "b" / "CT.dcm", "jpeg2000", per_frame_rescale=rescales)

    for folder in ("a", "b"):  # pydicom decodes the first, GDCM the second (from a copy without rescale)
        volume = open_volume(tmp_path / folder)
        index = np.indices(volume.shape).transpose(1, 2, 3, 0)
        assert np.abs(volume.array - linear_hu(volume.index_to_lps(index))).max() <= 2.0, (
            folder
        )  # slope 4 rounds to 4 HU


def test_a_tilted_enhanced_ct_is_resampled_as_the_classic_series(tmp_path: Path) -> None:
    series = CTSeries(n_slices=10, orientation=tilted_axial(20.0), stack_direction=(0.0, 0.0, 1.0), slice_step=1.5)
    series.write(tmp_path / "classic")
    write_enhanced_ct(series, tmp_path / "enhanced" / "CT.dcm", "rle")

    volume = open_volume(tmp_path / "enhanced")

    assert "Gantry tilt of 20.0°" in volume.warnings[0]
    _same_volume(volume, open_volume(tmp_path / "classic"))


def test_a_missing_frame_is_refused_by_the_one_gap_rule_and_filled_when_asked(tmp_path: Path) -> None:
    series = CTSeries(n_slices=8, origin=(-10.0, -12.0, 30.0))
    positions = [p for k, p in enumerate(series.slice_positions()) if k != 4]
    write_enhanced_ct(series.but(positions=[tuple(p) for p in positions]), tmp_path / "CT.dcm")

    with pytest.raises(SliceGapError, match=r"a 2\.0 mm gap between z = 33\.0 mm and z = 35\.0 mm"):
        open_volume(tmp_path)
    assert open_volume(tmp_path, allow_gaps=True).dicom.interpolated_slices == (4,)  # type: ignore[union-attr]


def test_two_different_frames_at_one_position_are_refused(tmp_path: Path) -> None:
    series = CTSeries(n_slices=4)
    positions = [tuple(p) for p in series.slice_positions()]
    path = write_enhanced_ct(series.but(positions=[*positions, positions[1]]), tmp_path / "CT.dcm")
    ds = pydicom.dcmread(path)
    frames = ds.pixel_array.copy()
    frames[-1] += 40  # another phase at the second position
    ds.PixelData = frames.tobytes()
    ds.save_as(path, enforce_file_format=True)

    with pytest.raises(DuplicateSlicesError, match="same position"):
        open_volume(tmp_path)


def test_an_enhanced_ct_with_short_pixel_data_is_refused_naming_what_is_missing(tmp_path: Path) -> None:
    path = write_enhanced_ct(CTSeries(n_slices=6), tmp_path / "CT.dcm")
    ds = pydicom.dcmread(path)
    ds.PixelData = bytes(ds.PixelData)[: 32 * 32 * 2]  # one frame's worth of six
    ds.save_as(path, enforce_file_format=True)

    with pytest.raises(
        UnreadableFileError, match=r"holds 2048 bytes .* 32x32 pixels of 16 bits in 6 frames \(12288 bytes\)"
    ):
        open_volume(tmp_path)


def test_a_multi_frame_file_without_functional_groups_is_set_aside_with_a_clear_reason(tmp_path: Path) -> None:
    series = CTSeries(n_slices=1)
    ds = series.dataset(0, series.slice_positions()[0])
    ds.NumberOfFrames = 3
    ds.PixelData = bytes(ds.PixelData) * 3
    write_dataset(ds, tmp_path / "MF.dcm")

    with pytest.raises(NoImageSeriesError, match="a multi-frame object without a position for each frame"):
        open_volume(tmp_path)
