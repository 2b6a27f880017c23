"""File > Save as DICOM SEG: the window writes the result as a DICOM Segmentation of the CT's own
slices (the core's writer, as the CLI's --seg), never into the input, and says why when it cannot."""

from __future__ import annotations

import numpy as np
import pydicom
import SimpleITK as sitk
from test_main_window import open_and_segment
from ui_support import knee_volume

from kneeseg_app.core.dicom.seg_read import read_dicom_seg


def test_the_result_is_saved_as_a_dicom_seg_that_reads_back_exactly(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    open_and_segment(qtbot, window, knee_dicom)
    dialogs.save_file = str(tmp_path / "out" / "knee")
    written = window.flows.save_dicom_seg()
    assert written == tmp_path / "out" / "knee.dcm"
    dataset = pydicom.dcmread(written)
    assert dataset.Modality == "SEG" and "test-threshold-2d" in dataset.SegmentSequence[0].SegmentAlgorithmName
    source_uid = pydicom.dcmread(next(knee_dicom.iterdir()), stop_before_pixels=True).SeriesInstanceUID
    assert dataset.ReferencedSeriesSequence[0].SeriesInstanceUID == source_uid
    back = read_dicom_seg(written, window.session.volume)
    np.testing.assert_array_equal(back.array, window.session.result.labels.array)


def test_the_seg_is_never_written_into_the_ct_folder(qtbot, window, dialogs, threshold_model, knee_dicom) -> None:
    open_and_segment(qtbot, window, knee_dicom)
    dialogs.save_file = str(knee_dicom / "seg.dcm")
    assert window.flows.save_dicom_seg() is None
    assert "input folder" in dialogs.of_kind("error")[-1][2]
    assert not (knee_dicom / "seg.dcm").exists()


def test_a_ct_opened_from_an_image_file_is_told_why_there_is_no_seg(
    qtbot, window, dialogs, threshold_model, tmp_path
) -> None:
    ct, _ = knee_volume()
    sitk.WriteImage(ct.to_sitk(), str(tmp_path / "ct.nii.gz"))
    open_and_segment(qtbot, window, tmp_path / "ct.nii.gz")
    dialogs.save_file = str(tmp_path / "out" / "knee.dcm")
    assert window.flows.save_dicom_seg() is None
    kind, title, text = dialogs.messages[-1]
    assert (kind, title) == ("info", "Cannot save as DICOM SEG") and "opened from DICOM files" in text
    assert not (tmp_path / "out").exists()
