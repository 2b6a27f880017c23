"""Opening what a user points at, and label maps that keep the CT's grid and never land in the input folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from dicom_factory import CTSeries, linear_hu, write_dicomdir_stub, write_seg

from kneeseg_app.core.errors import EmptyFolderError, InputError, LabelMapError, OutputError, SingleSliceError
from kneeseg_app.core.imageio import open_volume, read_label_map, write_label_map
from kneeseg_app.core.volume import Volume


def _ct(tmp_path: Path, n_slices: int = 6) -> tuple[Volume, Path]:
    folder = tmp_path / "cd" / "DICOM"
    CTSeries(n_slices=n_slices, origin=(-10.0, -12.0, 30.0), slice_step=1.5).write(folder)
    return open_volume(folder), folder


def _labels_for(ct: Volume) -> Volume:
    labels = np.zeros(ct.shape, dtype=np.uint8)
    labels[:, 4:12, 4:12] = 1
    labels[:, 20:28, 18:30] = 2
    return ct.with_array(labels)


def _oblique_volume() -> Volume:
    angle = np.radians(10.0)
    direction = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6) - 50
    return Volume(array, (2.0, 0.8, 0.6), (-3.0, 7.5, 11.25), direction)


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_volume_files_open_with_their_geometry_and_values(tmp_path: Path, suffix: str) -> None:
    original = _oblique_volume()
    path = tmp_path / f"ct{suffix}"
    sitk.WriteImage(original.to_sitk(), str(path))

    volume = open_volume(path)

    assert volume.same_grid(original)
    assert np.array_equal(volume.array, original.array)
    assert volume.source == str(path)


def test_a_folder_opens_its_best_series_or_the_one_asked_for(tmp_path: Path) -> None:
    bone = CTSeries(n_slices=8, description="Bone")
    soft = bone.but(n_slices=5, description="Soft", kernel="STANDARD", series_number=5)
    bone.write(tmp_path / "a")
    soft.write(tmp_path / "b")

    assert open_volume(tmp_path).dicom.series_description == "Bone"  # type: ignore[union-attr]
    assert open_volume(tmp_path, series_uid=soft.series_uid).shape == (5, 32, 32)
    assert open_volume(tmp_path, series_uid="2").dicom.series_description == "Soft"  # type: ignore[union-attr]


def test_a_lone_dicom_file_opens_its_series(tmp_path: Path) -> None:
    paths = CTSeries(n_slices=7).write(tmp_path)

    volume = open_volume(paths[3])

    assert volume.shape == (7, 32, 32)
    index = np.stack(np.meshgrid(*[np.arange(n) for n in volume.shape], indexing="ij"), axis=-1)
    assert np.abs(volume.array - linear_hu(volume.index_to_lps(index))).max() <= 0.5


def test_a_dicomdir_file_opens_the_cd_it_indexes(tmp_path: Path) -> None:
    CTSeries(n_slices=4).write(tmp_path / "DICOM" / "S1")
    dicomdir = write_dicomdir_stub(tmp_path)

    assert open_volume(dicomdir).shape == (4, 32, 32)


def test_a_lone_single_slice_or_non_volume_dicom_file_is_refused(tmp_path: Path) -> None:
    (path,) = CTSeries(n_slices=1).write(tmp_path / "one")
    seg = write_seg(tmp_path / "seg")

    with pytest.raises(SingleSliceError):
        open_volume(path)
    with pytest.raises(InputError, match="DICOM SEG"):
        open_volume(seg)


def test_missing_or_unsupported_inputs_raise_one_clear_sentence(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")

    with pytest.raises(EmptyFolderError, match="folder .* does not exist"):
        open_volume(tmp_path / "missing")
    with pytest.raises(InputError, match="file .* does not exist"):
        open_volume(tmp_path / "missing.nii.gz")
    with pytest.raises(InputError, match="neither a DICOM file nor a NIfTI"):
        open_volume(tmp_path / "notes.txt")
    (tmp_path / "broken.nii.gz").write_bytes(b"not gzip at all")
    with pytest.raises(InputError, match="cannot be read as an image"):
        open_volume(tmp_path / "broken.nii.gz")


@pytest.mark.parametrize("suffix", [".nii.gz", ".nii", ".nrrd", ".mha"])
def test_label_maps_round_trip_as_uint8_in_the_ct_geometry(tmp_path: Path, suffix: str) -> None:
    ct, _ = _ct(tmp_path)
    labels = _labels_for(ct)

    written = write_label_map(labels, tmp_path / "out" / f"labels{suffix}")
    again = read_label_map(written, reference=ct)

    assert again.array.dtype == np.uint8 and np.array_equal(again.array, labels.array)
    assert again.same_grid(ct)
    assert sorted(p.name for p in written.parent.iterdir()) == [f"labels{suffix}"]  # no temporary left behind


def test_label_maps_of_an_oblique_volume_keep_its_direction(tmp_path: Path) -> None:
    ct = _oblique_volume()
    labels = ct.with_array((ct.array > 0).astype(np.uint8))

    again = read_label_map(write_label_map(labels, tmp_path / "l.nii.gz"), reference=ct)

    assert np.allclose(again.direction, ct.direction, atol=1e-6)


def test_writing_refuses_to_overwrite_unless_allowed(tmp_path: Path) -> None:
    ct, _ = _ct(tmp_path)
    target = write_label_map(_labels_for(ct), tmp_path / "labels.nii.gz")

    with pytest.raises(OutputError, match="already exists"):
        write_label_map(_labels_for(ct), target)
    empty = ct.with_array(np.zeros(ct.shape, dtype=np.uint8))
    write_label_map(empty, target, overwrite=True)
    assert read_label_map(target).array.max() == 0


def test_writing_never_goes_into_the_dicom_input_folder_or_a_protected_one(tmp_path: Path) -> None:
    ct, folder = _ct(tmp_path)
    labels = _labels_for(ct)

    with pytest.raises(OutputError, match="input folder"):
        write_label_map(labels, folder / "labels.nii.gz")
    with pytest.raises(OutputError, match="input folder"):
        write_label_map(labels, folder / "sub" / "labels.nii.gz")
    with pytest.raises(OutputError, match="input folder"):
        write_label_map(labels, tmp_path / "mine" / "labels.nrrd", protected=[tmp_path / "mine"])
    with pytest.raises(OutputError, match=r"\.nii\.gz, \.nii, \.nrrd or \.mha"):
        write_label_map(labels, tmp_path / "labels.png")
    assert not (folder / "labels.nii.gz").exists()


def test_label_maps_that_do_not_fit_their_ct_are_refused_with_the_difference_in_words(tmp_path: Path) -> None:
    ct, _ = _ct(tmp_path)
    labels = _labels_for(ct)
    shifted = Volume(
        labels.array, labels.spacing_zyx, tuple(np.add(labels.origin_xyz, (2.0, 0.0, 0.0))), labels.direction
    )
    cropped = Volume(labels.array[1:], labels.spacing_zyx, labels.origin_xyz, labels.direction)
    finer = Volume(labels.array, (1.0, 0.7, 0.7), labels.origin_xyz, labels.direction)
    for volume, expected in (
        (shifted, "shifted by 2.00 mm"),
        (cropped, "it is 32x32x5 voxels, the CT is 32x32x6"),
        (finer, "spacing"),
    ):
        path = write_label_map(volume, tmp_path / f"{expected[:6].strip()}.nii.gz")
        with pytest.raises(LabelMapError, match=expected):
            read_label_map(path, reference=ct)


def test_label_maps_with_fractions_or_negative_values_are_refused(tmp_path: Path) -> None:
    probabilities = _oblique_volume().with_array(np.full((4, 5, 6), 0.25, dtype=np.float32))
    sitk.WriteImage(probabilities.to_sitk(), str(tmp_path / "prob.nii.gz"))
    negative = _oblique_volume()
    sitk.WriteImage(negative.to_sitk(), str(tmp_path / "neg.nii.gz"))

    with pytest.raises(LabelMapError, match="fractional"):
        read_label_map(tmp_path / "prob.nii.gz")
    with pytest.raises(LabelMapError, match="negative"):
        read_label_map(tmp_path / "neg.nii.gz")
