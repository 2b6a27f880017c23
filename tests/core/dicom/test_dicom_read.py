"""Reading a chosen series: HU, LPS geometry from each slice's position, and never a silently wrong grid.

The synthetic slices hold HU = linear_hu(LPS position of the pixel), so every voxel of
a loaded volume can be checked against where it really lies in the patient; linear
interpolation reproduces a linear function, so resampled volumes match to ~1 HU.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import (
    MR_IMAGE_STORAGE,
    SAGITTAL,
    CTSeries,
    linear_hu,
    tilted_axial,
    truncate_header,
    truncate_pixels,
    write_dataset,
)
from pydicom.uid import generate_uid

from kneeseg_app.core.dicom import read_series, scan_folder
from kneeseg_app.core.errors import (
    Cancelled,
    DuplicateSlicesError,
    GeometryError,
    MixedImageSizesError,
    NoImageSeriesError,
    NotCTError,
    SingleSliceError,
    SliceGapError,
)
from kneeseg_app.core.progress import CancelToken
from kneeseg_app.core.volume import Volume


def _read(folder: Path) -> Volume:
    return read_series(scan_folder(folder).best())


def _voxel_errors(volume: Volume, inside: np.ndarray | None = None) -> np.ndarray:
    """|HU - linear_hu(voxel LPS)| over the voxels (optionally those in ``inside``)."""
    index = np.stack(np.meshgrid(*[np.arange(n) for n in volume.shape], indexing="ij"), axis=-1)
    error = np.abs(volume.array.astype(np.float64) - linear_hu(volume.index_to_lps(index)))
    return error if inside is None else error[inside]


def test_regular_series_reads_as_hu_with_lps_geometry_and_dicom_facts(tmp_path: Path) -> None:
    series = CTSeries(n_slices=10, slice_step=1.25, thickness=1.25, origin=(-11.0, -12.5, 40.0))
    paths = series.write(tmp_path, shuffle_names=True, extension="")

    volume = _read(tmp_path)

    assert volume.shape == (10, 32, 32) and volume.array.dtype == np.int16
    assert volume.spacing_zyx == pytest.approx((1.25, 0.7, 0.7))
    assert volume.origin_xyz == pytest.approx((-11.0, -12.5, 40.0))
    assert np.allclose(volume.direction, np.eye(3))
    assert _voxel_errors(volume).max() <= 0.5
    assert volume.warnings == []
    facts = volume.dicom
    assert facts is not None
    assert (facts.modality, facts.series_description, facts.slice_thickness_mm, facts.convolution_kernel) == (
        "CT",
        "Knee 1.0 Bone",
        1.25,
        "BONE",
    )
    assert (facts.patient_position, facts.series_instance_uid, facts.study_instance_uid) == (
        "FFS",
        series.series_uid,
        series.study_uid,
    )
    assert facts.files == tuple(str(p) for p in paths)


def test_slices_stored_head_to_feet_are_sorted_along_the_normal(tmp_path: Path) -> None:
    CTSeries(n_slices=6, origin=(-10.0, -12.0, 50.0), stack_direction=(0.0, 0.0, -1.0)).write(tmp_path)

    volume = _read(tmp_path)

    assert volume.origin_xyz[2] == pytest.approx(45.0)
    assert volume.direction[:, 2] == pytest.approx([0.0, 0.0, 1.0])
    assert _voxel_errors(volume).max() <= 0.5


def test_fractional_rescale_gives_float32_hu(tmp_path: Path) -> None:
    CTSeries(n_slices=3, rescale=(0.5, -1024.25)).write(tmp_path)

    volume = _read(tmp_path)

    assert volume.array.dtype == np.float32
    assert _voxel_errors(volume).max() <= 0.26


def test_integral_hu_beyond_the_int16_range_gives_float32(tmp_path: Path) -> None:
    CTSeries(n_slices=3, rescale=(2.0, 0.0), intensity=lambda p: linear_hu(p) + 40000.0).write(tmp_path)

    volume = _read(tmp_path)

    assert volume.array.dtype == np.float32
    assert float(volume.array.min()) > 40000.0


def test_oblique_slices_stacked_along_their_normal_are_kept_without_resampling(tmp_path: Path) -> None:
    CTSeries(n_slices=6, orientation=tilted_axial(15.0), slice_step=1.5).write(tmp_path)

    volume = _read(tmp_path)

    assert volume.warnings == []
    assert volume.shape == (6, 32, 32)
    assert volume.direction[:, 1] == pytest.approx(tilted_axial(15.0)[3:])
    assert _voxel_errors(volume).max() <= 0.5


@pytest.mark.parametrize("tag", [20.0, None], ids=["with-tilt-tag", "without-tilt-tag"])
def test_gantry_tilt_is_resampled_from_the_true_slice_positions(tmp_path: Path, tag: float | None) -> None:
    """Positions advance along the table (z) while the image plane is tilted by 20 degrees: a sheared stack."""
    series = CTSeries(
        n_slices=12, orientation=tilted_axial(20.0), stack_direction=(0.0, 0.0, 1.0), slice_step=1.5, gantry_tilt=tag
    )
    series.write(tmp_path)

    volume = _read(tmp_path)

    assert "Gantry tilt of 20.0°" in volume.warnings[0]
    assert volume.spacing_zyx[0] == pytest.approx(1.5 * np.cos(np.radians(20.0)))
    assert volume.shape[1] > 32  # the grid grows to hold every shifted slice
    padding = volume.array == volume.array.min()
    inside = ~padding
    assert inside.mean() > 0.7
    assert np.percentile(_voxel_errors(volume, inside), 99) <= 1.0
    # a naive reader stacks slices along the normal at the position-to-position distance
    naive = Volume(volume.array, (1.5, 0.7, 0.7), series.origin, volume.direction)
    assert np.median(_voxel_errors(naive, inside)) > 10  # over 1.4 mm off


def test_a_missing_slice_is_refused_naming_the_gap_in_mm_and_where_it_is(tmp_path: Path) -> None:
    CTSeries(n_slices=9, slice_step=1.0, origin=(-10.0, -12.0, 30.0)).write(tmp_path, skip=(4,))

    with pytest.raises(
        SliceGapError, match=r"^Slices are missing: a 2\.0 mm gap between z = 33\.0 mm and z = 35\.0 mm.*1\.00 mm"
    ) as caught:
        _read(tmp_path)

    assert "--allow-gaps" in str(caught.value) and len(caught.value.gaps) == 1


def test_a_missing_slice_is_filled_only_when_asked_and_the_invented_slice_is_recorded(tmp_path: Path) -> None:
    CTSeries(n_slices=9, slice_step=1.0).write(tmp_path, skip=(4,))

    volume = read_series(scan_folder(tmp_path).best(), allow_gaps=True)

    assert volume.shape == (9, 32, 32) and volume.spacing_zyx[0] == pytest.approx(1.0)
    assert "1.00, 1.00, 1.00, 2.00, 1.00" in volume.warnings[0]
    assert "Interpolated 1 slice(s) across a 2.0 mm gap (z = 33.0 to 35.0 mm)" in volume.warnings[-1]
    facts = volume.dicom
    assert facts is not None and facts.interpolated_slices == (4,)
    (gap,) = facts.filled_gaps
    assert (gap.axis, gap.start_mm, gap.end_mm, gap.width_mm, gap.nominal_step_mm) == ("z", 33.0, 35.0, 2.0, 1.0)
    assert _voxel_errors(volume).max() <= 0.5


@pytest.mark.parametrize(("gap", "refused"), [(1.5, False), (1.6, True)])
def test_the_gap_limit_is_one_and_a_half_nominal_steps(tmp_path: Path, gap: float, refused: bool) -> None:
    depths = [0.0, 2.0, 4.0, 4.0 + 2.0 * gap, 6.0 + 2.0 * gap, 8.0 + 2.0 * gap]
    CTSeries(positions=[(-10.0, -12.0, 30.0 + d) for d in depths], thickness=2.0).write(tmp_path)

    if refused:
        with pytest.raises(SliceGapError, match=r"a 3\.2 mm gap .* advances by 2\.00 mm"):
            _read(tmp_path)
    else:
        assert "Uneven slice spacing" in _read(tmp_path).warnings[0]


def test_sections_of_another_thickness_are_resampled_not_taken_for_gaps(tmp_path: Path) -> None:
    depths = [0.0, 1.0, 2.0, 3.0, 5.5, 8.0, 10.5]  # a 1 mm section then a 2.5 mm section
    CTSeries(positions=[(-10.0, -12.0, 30.0 + d) for d in depths], thicknesses=[1.0] * 4 + [2.5] * 3).write(tmp_path)

    volume = _read(tmp_path)

    assert volume.spacing_zyx[0] == pytest.approx(10.5 / 10)
    assert volume.shape[0] == 11
    assert "Uneven slice spacing" in volume.warnings[0]
    assert volume.dicom is not None and volume.dicom.filled_gaps == ()
    assert _voxel_errors(volume).max() <= 1.0  # stored and resampled values are each rounded to 1 HU


def test_the_same_steps_in_slices_of_one_thickness_are_a_gap(tmp_path: Path) -> None:
    depths = [0.0, 1.0, 2.0, 3.0, 5.5, 8.0, 10.5]
    CTSeries(positions=[(-10.0, -12.0, 30.0 + d) for d in depths]).write(tmp_path)

    with pytest.raises(SliceGapError, match=r"a 2\.5 mm gap between z = 33\.0 mm and z = 35\.5 mm and 2 more gap"):
        _read(tmp_path)


def test_a_tilted_series_with_a_thicker_second_section_reads_as_geometry_not_gaps(tmp_path: Path) -> None:
    """The real GE head case in small: 4 mm then 7 mm along the tilted normal, with a 1.08 mm overlap between."""
    tilt = 18.5
    depths = [4.0 * k for k in range(6)] + [21.08 + 7.0 * k for k in range(5)]
    along_z = [d / np.cos(np.radians(tilt)) for d in depths]  # the table moves along z; the normal is tilted
    series = CTSeries(
        positions=[(-10.0, -12.0, 30.0 + z) for z in along_z],
        orientation=tilted_axial(tilt),
        thicknesses=[4.0] * 6 + [7.0] * 5,
        gantry_tilt=tilt,
    )
    series.write(tmp_path)

    volume = _read(tmp_path)

    assert "Gantry tilt of 18.5°" in volume.warnings[0] and "Uneven slice spacing" in volume.warnings[1]
    assert volume.spacing_zyx[0] == pytest.approx(49.08 / 12)  # the 4 mm step, stretched to end on the last slice
    assert volume.dicom is not None and volume.dicom.filled_gaps == ()


def test_a_gap_of_many_steps_is_refused_and_filled_only_when_asked(tmp_path: Path) -> None:
    depths = [0.0, 1.0, 2.0, 14.0, 15.0, 16.0]
    CTSeries(positions=[(-10.0, -12.0, 30.0 + d) for d in depths]).write(tmp_path)

    with pytest.raises(GeometryError, match="a 12.0 mm gap between z = 32.0 mm and z = 44.0 mm"):
        _read(tmp_path)
    volume = read_series(scan_folder(tmp_path).best(), allow_gaps=True)
    assert volume.dicom is not None and volume.dicom.interpolated_slices == tuple(range(3, 14))


def test_identical_duplicate_slices_are_removed_with_a_warning(tmp_path: Path) -> None:
    series = CTSeries(n_slices=5)
    paths = series.write(tmp_path)
    copy = series.dataset(2, series.slice_positions()[2])
    copy.SOPInstanceUID = generate_uid()
    write_dataset(copy, tmp_path / "COPY0003")

    volume = _read(tmp_path)

    assert volume.shape == (5, 32, 32)
    assert volume.warnings == ["Removed 1 duplicate slice(s): identical images at the same position."]
    assert len(volume.dicom.files) == len(paths)  # type: ignore[union-attr]


def test_different_images_at_one_position_raise_duplicate_slices_error(tmp_path: Path) -> None:
    series = CTSeries(n_slices=5)
    series.write(tmp_path)
    other_phase = series.but(series_uid=series.series_uid, intensity=lambda p: linear_hu(p) + 40.0)
    write_dataset(other_phase.dataset(7, series.slice_positions()[2]), tmp_path / "PHASE2")

    with pytest.raises(DuplicateSlicesError, match="same position .* different images"):
        _read(tmp_path)


def test_mr_series_is_refused_as_not_ct(tmp_path: Path) -> None:
    CTSeries(modality="MR", sop_class_uid=MR_IMAGE_STORAGE).write(tmp_path)
    (info,) = scan_folder(tmp_path).series

    with pytest.raises(NotCTError, match="^This series is MR, not CT"):
        read_series(info)


def test_single_slice_series_raises_single_slice_error(tmp_path: Path) -> None:
    CTSeries(n_slices=1).write(tmp_path)
    (info,) = scan_folder(tmp_path).others

    with pytest.raises(SingleSliceError, match="single slice"):
        read_series(info)


def test_slices_of_different_sizes_in_one_stack_raise_mixed_image_sizes_error(tmp_path: Path) -> None:
    series = CTSeries(n_slices=5)
    series.write(tmp_path)
    small = series.but(series_uid=series.series_uid, rows=16, columns=16)
    write_dataset(small.dataset(5, series.slice_positions()[4] + [0, 0, 1.0]), tmp_path / "SMALL")
    (info,) = scan_folder(tmp_path).series

    assert "different sizes" in info.problem
    with pytest.raises(MixedImageSizesError, match="different sizes"):
        read_series(info)


def test_a_truncated_last_slice_is_skipped_with_a_warning(tmp_path: Path) -> None:
    paths = CTSeries(n_slices=6).write(tmp_path)
    truncate_pixels(paths[-1])

    volume = _read(tmp_path)

    assert volume.shape == (5, 32, 32)
    assert "Skipped 1 unreadable file(s) (IM0006.dcm)" in volume.warnings[0]
    assert _voxel_errors(volume).max() <= 0.5


def test_a_truncated_slice_inside_the_series_is_a_gap_naming_it(tmp_path: Path) -> None:
    paths = CTSeries(n_slices=6).write(tmp_path)
    truncate_pixels(paths[2])

    with pytest.raises(SliceGapError, match=r"a 2\.0 mm gap .*\(IM0003\.dcm could not be read\)"):
        _read(tmp_path)


def test_a_header_truncated_slice_is_skipped_only_if_the_rest_is_complete(tmp_path: Path) -> None:
    paths = CTSeries(n_slices=6).write(tmp_path / "end")
    truncate_header(paths[-1])
    middle = CTSeries(n_slices=6).write(tmp_path / "middle")
    truncate_header(middle[2])

    assert "Skipped 1 unreadable file(s)" in _read(tmp_path / "end").warnings[0]
    with pytest.raises(SliceGapError, match=r"IM0003\.dcm could not be read"):
        _read(tmp_path / "middle")


@pytest.mark.parametrize("cause", ["missing file", "corrupt pixels", "cut header", "cut header, no UIDs"])
def test_one_gap_rule_whatever_left_the_hole(tmp_path: Path, cause: str) -> None:
    """A missing middle slice is refused the same way, and filled the same way when asked, whatever its cause."""
    series = CTSeries(n_slices=7, series_uid="" if "no UIDs" in cause else generate_uid())
    paths = series.write(tmp_path, skip=(3,) if cause == "missing file" else ())
    if cause == "corrupt pixels":
        truncate_pixels(paths[3])
    elif cause.startswith("cut header"):
        truncate_header(paths[3])

    with pytest.raises(
        SliceGapError, match=r"^Slices are missing: a 2\.0 mm gap between z = 32\.0 mm and z = 34\.0 mm"
    ):
        _read(tmp_path)
    volume = read_series(scan_folder(tmp_path).best(), allow_gaps=True)
    assert volume.shape == (7, 32, 32) and volume.dicom is not None and volume.dicom.interpolated_slices == (3,)
    assert _voxel_errors(volume).max() <= 0.5


def test_reading_reports_progress_and_stops_when_cancelled(tmp_path: Path) -> None:
    CTSeries(n_slices=4).write(tmp_path)
    info = scan_folder(tmp_path).best()
    seen: list[tuple[str, float]] = []

    read_series(info, progress=lambda stage, f: seen.append((stage, f)))
    token = CancelToken()
    token.cancel()

    assert seen[-1][1] == pytest.approx(1.0)
    assert all(0.0 <= f <= 1.0 for _, f in seen)
    with pytest.raises(Cancelled):
        read_series(info, cancel=token)


def test_a_hand_built_series_info_rereads_its_headers(tmp_path: Path) -> None:
    info = scan_folder(CTSeries(n_slices=4).write(tmp_path)[0].parent).best()
    bare = replace(info, headers=())

    assert read_series(bare).shape == (4, 32, 32)


def test_the_series_may_span_several_folders(tmp_path: Path) -> None:
    paths = CTSeries(n_slices=6).write(tmp_path / "a")
    (tmp_path / "b").mkdir()
    for path in paths[3:]:
        shutil.move(path, tmp_path / "b" / path.name)

    volume = _read(tmp_path)

    assert volume.shape == (6, 32, 32)
    assert volume.source == str(tmp_path)


def test_a_chosen_series_without_positions_is_refused_in_one_grammatical_sentence(tmp_path: Path) -> None:
    for path in CTSeries(n_slices=3, description="Knee no geometry").write(tmp_path):
        ds = pydicom.dcmread(path)
        del ds.ImagePositionPatient
        ds.save_as(path, enforce_file_format=True)
    (info,) = scan_folder(tmp_path).others

    with pytest.raises(NoImageSeriesError) as caught:
        read_series(info)

    assert str(caught.value) == (
        "The series 'Knee no geometry' cannot be read as a volume: no slice position or orientation in the headers."
    )


def test_a_gap_in_a_sagittal_series_is_named_along_the_patient_axis_it_crosses(tmp_path: Path) -> None:
    CTSeries(n_slices=7, orientation=SAGITTAL, origin=(-3.0, -12.0, 40.0)).write(tmp_path, skip=(3,))

    with pytest.raises(SliceGapError, match=r"a 2\.0 mm gap between x = -5\.0 mm and x = -7\.0 mm"):
        _read(tmp_path)
