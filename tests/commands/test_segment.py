"""``kneeseg segment`` end to end: a real DICOM series in, a label map on its grid out."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from kneeseg_app.cli import main
from kneeseg_app.core import paths

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dicom_factory import CTSeries  # noqa: E402
from onnx_factory import expected_labels_from_hu, write_model_package  # noqa: E402


def knee_hu(points_lps: np.ndarray) -> np.ndarray:
    """A leg along z: soft tissue, a 'tibia' (1400 HU) below z = 0, a 'femur' (600 HU) above 4 mm."""
    p = np.asarray(points_lps, dtype=np.float64)
    r = np.hypot(p[..., 0], p[..., 1])
    z = p[..., 2]
    hu = np.where(r < 28, 40.0, -1000.0)
    hu = np.where((r < 12) & (z < 0), 1400.0, hu)
    return np.where((r < 12) & (z > 4), 600.0, hu)


@pytest.fixture()
def dicom_ct(tmp_path: Path) -> Path:
    series = CTSeries(
        n_slices=16,
        rows=72,
        columns=72,
        pixel_spacing=(0.8, 0.8),
        origin=(-28.4, -28.4, -16.0),
        slice_step=2.0,
        thickness=2.0,
        intensity=knee_hu,
    )
    series.write(tmp_path / "ct")
    return tmp_path / "ct"


@pytest.fixture()
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The threshold network installed as the only bundled model (the default)."""
    bundled = tmp_path / "bundled"
    monkeypatch.setattr(paths, "bundled_models_dir", lambda: bundled)
    return write_model_package(
        bundled / "threshold", name="threshold", patch_size=(64, 64), target_spacing=(0.8, 0.8), default=True
    )


def test_segments_a_dicom_folder_and_writes_labels_on_its_grid(
    dicom_ct: Path, model: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "out" / "labels.nii.gz"
    assert main(["segment", str(dicom_ct), "--out", str(out), "--threads", "1"]) == 0
    printed = capsys.readouterr()
    assert "femur" in printed.out and "tibia" in printed.out and " mL" in printed.out
    assert "time" in printed.out and "NOT FOR CLINICAL USE" in printed.out
    assert "Segmenting..." in printed.err  # plain stage lines when stderr is not a terminal

    from kneeseg_app.core.imageio import open_volume

    ct = open_volume(dicom_ct)
    written = sitk.ReadImage(str(out))
    labels = sitk.GetArrayFromImage(written)
    assert labels.dtype == np.uint8 and labels.shape == ct.shape
    assert np.allclose(written.GetOrigin(), ct.origin_xyz) and np.allclose(written.GetSpacing(), ct.spacing_xyz)
    expected = expected_labels_from_hu(ct.array)
    for value in (1, 2):
        overlap = (
            2 * ((labels == value) & (expected == value)).sum() / ((labels == value).sum() + (expected == value).sum())
        )
        assert overlap > 0.9


def test_reference_prints_agreement_metrics(dicom_ct: Path, model: Path, tmp_path: Path, capsys) -> None:
    from kneeseg_app.core.imageio import open_volume

    ct = open_volume(dicom_ct)
    reference = tmp_path / "reference.nii.gz"
    sitk.WriteImage(ct.with_array(expected_labels_from_hu(ct.array)).to_sitk(), str(reference))
    code = main(
        [
            "segment",
            str(dicom_ct),
            "--out",
            str(tmp_path / "l.nrrd"),
            "--reference",
            str(reference),
            "--no-tta",
            "--threads",
            "1",
        ]
    )
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("bone"))
    assert "Dice" in lines[header] and "HD95 mm" in lines[header]
    femur = lines[header + 1].split()
    assert femur[0] == "femur" and float(femur[1]) > 0.9


def test_a_reference_on_another_grid_is_refused_before_segmenting(
    dicom_ct: Path, model: Path, tmp_path: Path, capsys
) -> None:
    reference = tmp_path / "small.nii.gz"
    sitk.WriteImage(sitk.Image(10, 10, 10, sitk.sitkUInt8), str(reference))
    out = tmp_path / "l.nii.gz"
    assert main(["segment", str(dicom_ct), "--out", str(out), "--reference", str(reference)]) == 2
    assert "does not lie on the CT's grid" in capsys.readouterr().err
    assert not out.exists()


def test_an_existing_output_is_kept_unless_overwrite(dicom_ct: Path, model: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "labels.nii.gz"
    out.write_bytes(b"precious")
    assert main(["segment", str(dicom_ct), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and len(err.strip().splitlines()) == 1
    assert out.read_bytes() == b"precious"
    assert main(["segment", str(dicom_ct), "--out", str(out), "--overwrite", "--tta", "--threads", "1"]) == 0
    assert "TTA on" in capsys.readouterr().out
    assert sitk.ReadImage(str(out)).GetSize() == (72, 72, 16)


def test_writing_into_the_input_folder_is_refused(dicom_ct: Path, model: Path, capsys) -> None:
    assert main(["segment", str(dicom_ct), "--out", str(dicom_ct / "labels.nii.gz")]) == 2
    assert "input folder" in capsys.readouterr().err


def test_an_unknown_model_name_is_one_line_with_the_installed_ones(
    dicom_ct: Path, model: Path, tmp_path: Path, capsys
) -> None:
    assert main(["segment", str(dicom_ct), "--out", str(tmp_path / "l.nii.gz"), "--model", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "kneeseg: No model named 'nope' is installed (installed: threshold)."


def test_a_model_folder_may_be_given_as_a_path_and_a_nifti_as_input(model: Path, tmp_path: Path, capsys) -> None:
    from kneeseg_app.core.volume import Volume

    hu = np.full((6, 40, 40), -1000, dtype=np.int16)
    hu[:, 4:36, 4:36] = 40  # soft tissue around the bone: the input check wants CT values in HU
    hu[:, 10:30, 10:30] = 1400
    image = tmp_path / "input" / "ct.nii.gz"
    image.parent.mkdir()
    sitk.WriteImage(Volume(hu, (2.0, 0.8, 0.8)).to_sitk(), str(image))
    out = tmp_path / "l.mha"
    assert main(["segment", str(image), "--out", str(out), "--model", str(model), "--threads", "1"]) == 0
    assert (sitk.GetArrayFromImage(sitk.ReadImage(str(out)))[:, 15:25, 15:25] == 2).all()


def test_a_missing_input_is_one_line(model: Path, tmp_path: Path, capsys) -> None:
    assert main(["segment", str(tmp_path / "nowhere"), "--out", str(tmp_path / "l.nii.gz")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_segments_a_phantom_written_as_dicom(model: Path, tmp_path: Path, capsys) -> None:
    """The team's knee phantom as a DICOM series: both bones found near the truth."""
    from kneeseg_app.core.dicom.write import write_dicom_series
    from kneeseg_app.core.phantom import generate_phantom

    phantom = generate_phantom(7, shape_zyx=(48, 128, 128))
    write_dicom_series(phantom.ct, tmp_path / "ct")
    reference = tmp_path / "ref.nii.gz"
    sitk.WriteImage(phantom.labels.to_sitk(), str(reference))
    out = tmp_path / "l.nii.gz"
    assert (
        main(["segment", str(tmp_path / "ct"), "--out", str(out), "--reference", str(reference), "--threads", "1"]) == 0
    )
    assert "Dice" in capsys.readouterr().out
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(out)))
    truth = phantom.labels.array
    assert labels.shape == truth.shape
    # the threshold network knows HU, not anatomy: bone as a whole must still be found
    bone = labels > 0
    assert 2 * (bone & (truth > 0)).sum() / (bone.sum() + (truth > 0).sum()) > 0.6


def test_progress_on_a_terminal_is_one_redrawn_bar_per_stage() -> None:
    import io

    from kneeseg_app.commands.segment import ProgressLine

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = ProgressLine(stream)
    for stage, fraction in [("Loading model", 0.0), ("Segmenting", 0.1), ("Segmenting", 0.9), ("Done", 1.0)]:
        progress(stage, fraction)
        progress._last_draw = 0.0  # no throttling in the test
    text = stream.getvalue()
    assert "\rSegmenting       [###" in text and "100.0%" in text
    assert text.count("\n") == 2  # one finished line per stage, nothing for "Done"


def test_meshes_and_dicom_seg_are_written_beside_the_label_map(
    dicom_ct: Path, model: Path, tmp_path: Path, capsys
) -> None:
    import pydicom
    import trimesh

    out = tmp_path / "out" / "labels.nii.gz"
    seg = tmp_path / "out" / "labels.seg.dcm"
    code = main(
        [
            "segment",
            str(dicom_ct),
            "--out",
            str(out),
            "--threads",
            "1",
            "--meshes",
            str(tmp_path / "meshes"),
            "--seg",
            str(seg),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "TEST0001_femur.stl" in printed and "DICOM SEG" in printed  # named after the patient ID
    femur = trimesh.load(tmp_path / "meshes" / "TEST0001_femur.stl")
    assert femur.is_watertight and femur.volume > 0
    dataset = pydicom.dcmread(seg)
    assert dataset.Modality == "SEG"
    source_uid = pydicom.dcmread(next(dicom_ct.iterdir()), stop_before_pixels=True).SeriesInstanceUID
    assert dataset.ReferencedSeriesSequence[0].SeriesInstanceUID == source_uid


def test_a_dicom_seg_for_an_image_file_input_is_refused_before_segmenting(model: Path, tmp_path: Path, capsys) -> None:
    image = sitk.GetImageFromArray(np.full((8, 32, 32), -1000, np.int16))
    (tmp_path / "in").mkdir()
    sitk.WriteImage(image, str(tmp_path / "in" / "ct.nii.gz"))
    code = main(
        [
            "segment",
            str(tmp_path / "in" / "ct.nii.gz"),
            "--out",
            str(tmp_path / "o" / "l.nii.gz"),
            "--seg",
            str(tmp_path / "o" / "s.dcm"),
        ]
    )
    assert code == 2
    assert "DICOM" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
