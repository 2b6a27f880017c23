"""``kneeseg segment --reference seg.dcm``: a DICOM SEG is a reference like any label map
(read through imageio's one dispatcher, checked on the CT's grid)."""

# ruff: noqa: F811 - the fixtures dicom_ct and model come from test_segment

from __future__ import annotations

from pathlib import Path

import numpy as np
from onnx_factory import expected_labels_from_hu
from test_segment import dicom_ct, model  # noqa: F401

from kneeseg_app.cli import main
from kneeseg_app.core.dicom.seg import write_dicom_seg
from kneeseg_app.core.imageio import open_volume, read_label_map


def write_reference_seg(dicom_ct: Path, out: Path) -> Path:
    ct = open_volume(dicom_ct)
    return write_dicom_seg(ct.with_array(expected_labels_from_hu(ct.array)), ct, out)


def test_imageio_reads_a_dicom_seg_onto_its_ct(dicom_ct: Path, tmp_path: Path) -> None:
    ct = open_volume(dicom_ct)
    seg = write_reference_seg(dicom_ct, tmp_path / "ref" / "reference.dcm")
    labels = read_label_map(seg, reference=ct)
    assert labels.shape == ct.shape
    np.testing.assert_array_equal(labels.array, expected_labels_from_hu(ct.array))


def test_the_cli_scores_against_a_dicom_seg_reference(dicom_ct: Path, model: Path, tmp_path: Path, capsys) -> None:
    seg = write_reference_seg(dicom_ct, tmp_path / "ref" / "reference.seg.dcm")
    out = tmp_path / "out" / "labels.nii.gz"
    code = main(["segment", str(dicom_ct), "--out", str(out), "--reference", str(seg), "--no-tta", "--threads", "1"])
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("bone"))
    femur, tibia = lines[header + 1].split(), lines[header + 2].split()
    assert femur[0] == "femur" and float(femur[1]) > 0.9
    assert tibia[0] == "tibia" and float(tibia[1]) > 0.9


def test_a_dicom_seg_of_another_ct_is_refused_in_one_line(dicom_ct: Path, model: Path, tmp_path: Path, capsys) -> None:
    from dicom_factory import CTSeries

    other = tmp_path / "other"
    CTSeries(n_slices=8, rows=40, columns=40, pixel_spacing=(1.0, 1.0), origin=(0.0, 0.0, 300.0)).write(other)
    seg = write_reference_seg(other, tmp_path / "ref" / "other.seg.dcm")
    code = main(["segment", str(dicom_ct), "--out", str(tmp_path / "out.nii.gz"), "--reference", str(seg)])
    assert code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1].startswith("kneeseg: The DICOM SEG")
