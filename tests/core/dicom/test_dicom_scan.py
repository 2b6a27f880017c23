"""Scanning a CT folder as a surgeon has it: find, group, rank and set aside series from headers only."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dicom_factory import (
    CORONAL,
    SAGITTAL,
    CTSeries,
    truncate_header,
    truncate_pixels,
    write_dicomdir_stub,
    write_dose_sr,
    write_localizer,
    write_presentation_state,
    write_rtstruct,
    write_secondary_capture,
    write_seg,
)

from kneeseg_app.core.dicom import read_series, scan_folder
from kneeseg_app.core.dicom.scan import set_aside_lines
from kneeseg_app.core.errors import (
    Cancelled,
    EmptyFolderError,
    InputError,
    NoImageSeriesError,
    NotCTError,
    SingleSliceError,
    UnreadableFileError,
)
from kneeseg_app.core.progress import CancelToken


def _study_folder(root: Path) -> dict[str, CTSeries]:
    """A CD export: bone and soft-tissue reconstructions, an MR, a scout and non-image objects."""
    bone = CTSeries(n_slices=12, description="Knee 1.0 Bone", kernel="BONE", series_number=3)
    soft = bone.but(
        n_slices=6, description="Knee 2.0 Soft", kernel="STANDARD", series_number=4, slice_step=2.0, thickness=2.0
    )
    mr = bone.but(
        n_slices=14, modality="MR", sop_class_uid="1.2.840.10008.5.1.4.1.1.4", description="PD SPAIR", series_number=7
    )
    bone.write(root / "DICOM" / "S3", shuffle_names=True, extension="")
    soft.write(root / "DICOM" / "S4", shuffle_names=True, extension="", seed=1)
    mr.write(root / "DICOM" / "S7", extension=".dcm")
    write_localizer(root / "DICOM" / "S1")
    write_secondary_capture(root / "DICOM" / "S999")
    write_dose_sr(root / "DICOM" / "S998")
    write_seg(root / "derived")
    write_rtstruct(root / "derived")
    write_presentation_state(root / "derived")
    return {"bone": bone, "soft": soft, "mr": mr}


def test_scan_ranks_axial_ct_with_most_slices_first_and_sets_aside_what_is_not_a_volume(tmp_path: Path) -> None:
    series = _study_folder(tmp_path)

    result = scan_folder(tmp_path)

    assert [s.series_uid for s in result.series] == [
        series["bone"].series_uid,
        series["soft"].series_uid,
        series["mr"].series_uid,
    ]
    assert result.best().series_uid == series["bone"].series_uid
    reasons = {o.description: o.not_volume_reason for o in result.others}
    assert "localizer" in reasons["Topogram 0.6 T20f"]
    assert "screenshot" in reasons["Dose Report"]
    assert "dose report" in reasons["Radiation Dose Information"]
    assert "SEG" in reasons["Bone segmentation"]
    assert "RT structure set" in reasons["Contours"]
    assert "presentation state" in reasons["Annotations"]
    assert result.unreadable_files == [] and result.skipped_files == 0


def test_scan_lists_what_a_person_needs_to_choose_a_series(tmp_path: Path) -> None:
    _study_folder(tmp_path)

    best, second = scan_folder(tmp_path).series[:2]

    assert (best.description, best.modality, best.n_slices, best.slice_thickness_mm) == ("Knee 1.0 Bone", "CT", 12, 1.0)
    assert (best.convolution_kernel, best.rows, best.columns, best.pixel_spacing_mm) == ("BONE", 32, 32, (0.7, 0.7))
    assert (second.convolution_kernel, second.n_slices, second.slice_thickness_mm) == ("STANDARD", 6, 2.0)
    assert best.summary() == "Knee 1.0 Bone - CT, 12 slice(s), 1.00 mm, kernel BONE, 32x32"


def test_scan_finds_files_without_extension_in_nested_folders_and_orders_them_along_the_normal(tmp_path: Path) -> None:
    series = CTSeries(n_slices=9)
    written = series.write(tmp_path / "PATIENT" / "STUDY" / "SERIES", shuffle_names=True, extension="")

    (info,) = scan_folder(tmp_path).series

    assert info.files == tuple(str(p) for p in written)  # written in slice order, named at random
    assert sorted(Path(f).name for f in info.files) != [Path(f).name for f in info.files]


def test_scan_skips_non_dicom_files_quickly_and_counts_them(tmp_path: Path) -> None:
    CTSeries(n_slices=4).write(tmp_path / "images")
    (tmp_path / "README.TXT").write_text("Viewer for Windows")
    (tmp_path / "viewer.exe").write_bytes(b"MZ" + bytes(500))
    (tmp_path / "ct.nii.gz").write_bytes(b"\x1f\x8b" + bytes(300))
    write_dicomdir_stub(tmp_path)

    result = scan_folder(tmp_path)

    assert result.skipped_files == 3
    assert result.unreadable_files == []
    assert result.dicom_files == 4 and len(result.series) == 1


def test_scan_reads_old_files_without_preamble(tmp_path: Path) -> None:
    CTSeries(n_slices=5).write(tmp_path, preamble=False)

    (info,) = scan_folder(tmp_path).series

    assert info.n_slices == 5
    assert read_series(info).shape == (5, 32, 32)


def test_scanning_never_decodes_pixel_data_of_400_slices(tmp_path: Path) -> None:
    """Each file keeps its header but loses its pixel data: only a header-only scan can succeed."""
    paths = CTSeries(n_slices=400, rows=8, columns=8).write(tmp_path)
    for path in paths:
        truncate_pixels(path, keep_pixel_bytes=4)
    fractions: list[float] = []

    result = scan_folder(tmp_path, progress=lambda stage, f: fractions.append(f))

    assert [s.n_slices for s in result.series] == [400]
    assert result.unreadable_files == []
    assert fractions[-1] == pytest.approx(1.0)
    with pytest.raises(UnreadableFileError, match=r"IM0\d{3}"):
        read_series(result.best())


def test_a_file_truncated_inside_its_header_is_unreadable_and_recorded_with_its_series(tmp_path: Path) -> None:
    paths = CTSeries(n_slices=6).write(tmp_path)
    truncate_header(paths[3])

    result = scan_folder(tmp_path)

    assert result.unreadable_files == [str(paths[3])]
    assert result.best().unreadable_files == (str(paths[3]),)
    assert "1 truncated file(s)" in result.best().summary()


def test_one_series_holding_axial_and_sagittal_stacks_is_split(tmp_path: Path) -> None:
    axial = CTSeries(n_slices=10)
    axial.write(tmp_path / "a")
    sagittal = axial.but(series_uid=axial.series_uid, orientation=SAGITTAL, n_slices=8, origin=(0.0, -12.0, 40.0))
    sagittal.write(tmp_path / "b")

    result = scan_folder(tmp_path)

    assert [(s.orientation, s.n_slices) for s in result.series] == [("axial", 10), ("sagittal", 8)]
    assert {s.series_uid for s in result.series} == {axial.series_uid}
    assert len({s.key for s in result.series}) == 2


def test_find_picks_a_series_by_list_number_or_uid(tmp_path: Path) -> None:
    series = _study_folder(tmp_path)
    result = scan_folder(tmp_path)

    assert result.find("2").series_uid == series["soft"].series_uid
    assert result.find(series["mr"].series_uid).modality == "MR"
    with pytest.raises(InputError, match="no series '9'"):
        result.find("9")


def test_missing_folder_raises_empty_folder_error(tmp_path: Path) -> None:
    with pytest.raises(EmptyFolderError, match="does not exist"):
        scan_folder(tmp_path / "nowhere")


def test_empty_folder_and_folder_without_dicom_raise_empty_folder_error(tmp_path: Path) -> None:
    with pytest.raises(EmptyFolderError, match="is empty"):
        scan_folder(tmp_path).best()
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(EmptyFolderError, match=r"No DICOM files .*1 other file"):
        scan_folder(tmp_path).best()


def test_folder_of_mr_only_is_refused_as_not_ct(tmp_path: Path) -> None:
    CTSeries(modality="MR", sop_class_uid="1.2.840.10008.5.1.4.1.1.4").write(tmp_path)

    with pytest.raises(NotCTError, match="This series is MR, not CT"):
        scan_folder(tmp_path).best()


def test_folder_of_non_image_objects_raises_no_image_series_error(tmp_path: Path) -> None:
    write_seg(tmp_path)
    write_dose_sr(tmp_path)
    write_localizer(tmp_path)

    with pytest.raises(NoImageSeriesError, match="no CT image volume.*localizer"):
        scan_folder(tmp_path).best()


def test_folder_of_a_single_slice_raises_single_slice_error(tmp_path: Path) -> None:
    CTSeries(n_slices=1).write(tmp_path)

    result = scan_folder(tmp_path)

    assert result.series == [] and result.others[0].not_volume_reason == "a single slice is not a volume"
    with pytest.raises(SingleSliceError, match="single slice"):
        result.best()


def test_scan_stops_when_cancelled(tmp_path: Path) -> None:
    CTSeries(n_slices=3).write(tmp_path)
    token = CancelToken()
    token.cancel()

    with pytest.raises(Cancelled):
        scan_folder(tmp_path, cancel=token)


def test_copied_folder_with_a_missing_series_uid_groups_by_folder_and_series_number(tmp_path: Path) -> None:
    """Anonymisers sometimes blank the series UID (the Siemens test case has none)."""
    series = CTSeries(n_slices=5, series_uid="")
    series.write(tmp_path / "one")
    shutil.copytree(tmp_path / "one", tmp_path / "two")

    result = scan_folder(tmp_path)

    assert [s.n_slices for s in result.series] == [5, 5]


def test_a_few_non_axial_ct_slices_are_set_aside_as_too_few_without_being_called_a_localizer(tmp_path: Path) -> None:
    CTSeries(n_slices=2, orientation=CORONAL, image_type=("ORIGINAL", "PRIMARY", "AXIAL")).write(tmp_path / "few")
    CTSeries(n_slices=5).write(tmp_path / "ct")

    result = scan_folder(tmp_path)

    assert [s.n_slices for s in result.series] == [5]
    assert result.others[0].not_volume_reason == "only 2 coronal slices, too few for a volume"


def test_a_coronal_cone_beam_slice_is_a_single_slice_not_a_localizer(tmp_path: Path) -> None:
    CTSeries(
        n_slices=1,
        orientation=CORONAL,
        description="CBCT Knee 0.2",
        image_type=("ORIGINAL", "PRIMARY", "VOLUME"),
        pixel_spacing=(0.2, 0.2),
    ).write(tmp_path)

    (info,) = scan_folder(tmp_path).others

    assert info.not_volume_reason == "a single slice is not a volume"
    with pytest.raises(SingleSliceError, match="single slice"):
        scan_folder(tmp_path).best()


def test_a_scout_named_so_only_in_its_description_is_still_a_localizer(tmp_path: Path) -> None:
    CTSeries(
        n_slices=1, orientation=CORONAL, description="Topogram 0.6 T20f", image_type=("ORIGINAL", "PRIMARY")
    ).write(tmp_path)

    assert "localizer" in scan_folder(tmp_path).others[0].not_volume_reason


def test_a_thousand_single_slice_series_are_listed_in_one_line(tmp_path: Path) -> None:
    for k in range(1000):
        CTSeries(n_slices=1, rows=4, columns=4, description=f"Export {k}").write(tmp_path / f"S{k:04d}")
    write_seg(tmp_path / "derived")

    lines = set_aside_lines(scan_folder(tmp_path).others)

    assert lines[0] == "1000 series (1000 file(s)): a single slice is not a volume (first: Export 0)"
    assert len(lines) == 2 and "DICOM SEG" in lines[1]


def test_a_folder_whose_dicom_files_are_all_broken_says_so(tmp_path: Path) -> None:
    for path in CTSeries(n_slices=2).write(tmp_path):
        truncate_header(path)

    with pytest.raises(
        NoImageSeriesError,
        match=r"None of the 2 DICOM file\(s\) .* could be read \(first: IM0001.dcm: the file ends before",
    ):
        scan_folder(tmp_path).best()
