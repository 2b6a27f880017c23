"""The one output-protection rule: results never land in what the user opened."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kneeseg_app.core.errors import OutputError
from kneeseg_app.core.protection import input_folders, refuse_input_folders
from kneeseg_app.core.volume import DicomFacts, Volume


def dicom_volume(files: list[Path]) -> Volume:
    return Volume(
        np.zeros((len(files), 2, 2), np.int16), (1.0, 1.0, 1.0), dicom=DicomFacts(files=tuple(map(str, files)))
    )


def test_an_opened_folder_and_the_folder_of_an_opened_file_are_protected(tmp_path) -> None:
    (tmp_path / "series").mkdir()
    (tmp_path / "refs").mkdir()
    reference = tmp_path / "refs" / "labels.nii.gz"
    reference.write_bytes(b"")
    assert input_folders([tmp_path / "series", reference]) == (
        (tmp_path / "series").resolve(),
        (tmp_path / "refs").resolve(),
    )


def test_the_folders_of_a_dicom_volumes_own_files_are_protected_once(tmp_path) -> None:
    """Opening a parent folder or a DICOMDIR still protects the series folders the slices came from."""
    files = [tmp_path / "study" / "s1" / f"{i}.dcm" for i in range(3)]
    assert input_folders([tmp_path], dicom_volume(files)) == (tmp_path.resolve(), (tmp_path / "study" / "s1").resolve())


def test_writing_into_an_input_folder_or_below_it_is_refused_in_words(tmp_path) -> None:
    series = tmp_path / "series"
    series.mkdir()
    with pytest.raises(OutputError, match="input folder"):
        refuse_input_folders(series / "out" / "labels.nii.gz", [series])
    refuse_input_folders(tmp_path / "results" / "labels.nii.gz", [series])  # beside it is fine


def test_every_writer_of_the_core_refuses_the_dicom_folder_without_being_told(tmp_path) -> None:
    """imageio, mesh and DICOM SEG writers protect a DICOM volume's folder from its facts alone."""
    from kneeseg_app.core import imageio, mesh

    folder = tmp_path / "series"
    folder.mkdir()
    files = [folder / f"{i}.dcm" for i in range(4)]
    for f in files:
        f.write_bytes(b"")
    labels = dicom_volume(files).with_array(np.ones((4, 2, 2), np.uint8))
    with pytest.raises(OutputError, match="input folder"):
        imageio.write_label_map(labels, folder / "labels.nii.gz")
    with pytest.raises(OutputError, match="input folder"):
        mesh.export_meshes(labels, folder / "meshes")
