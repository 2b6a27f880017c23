"""DicomFacts records whether the reader resampled the slices; the DICOM SEG code reads that record
instead of re-reading every header."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from kneeseg_app.core.dicom import seg
from kneeseg_app.core.dicom.write import write_dicom_series
from kneeseg_app.core.errors import OutputError
from kneeseg_app.core.imageio import open_volume
from kneeseg_app.core.volume import Volume


@pytest.fixture(scope="module")
def regular(tmp_path_factory: pytest.TempPathFactory) -> Volume:
    """A regular axial stack, one file per slice: read as it is, nothing resampled."""
    folder = tmp_path_factory.mktemp("regular") / "ct"
    ct = Volume(np.arange(6 * 16 * 16, dtype=np.int16).reshape(6, 16, 16) % 900, (2.0, 1.0, 1.0), (-8.0, -8.0, 0.0))
    write_dicom_series(ct, folder)
    return open_volume(folder)


def test_a_regular_stack_is_recorded_as_not_resampled(regular: Volume) -> None:
    assert regular.dicom is not None and regular.dicom.resampled is False
    assert len(regular.dicom.files) == regular.shape[0]


def test_a_tilted_uneven_series_is_recorded_as_resampled(real_dicom: Path) -> None:
    tilted = open_volume(real_dicom / "ge-head-gantry-tilt")
    assert tilted.dicom is not None and tilted.dicom.resampled is True


def test_the_seg_check_trusts_the_record_and_reads_one_header(monkeypatch, regular: Volume) -> None:
    read: list[str] = []
    real_read = seg._read_header
    monkeypatch.setattr(seg, "_read_header", lambda path: read.append(path) or real_read(path))
    assert seg.dicom_seg_problem(regular) is None
    assert read == [regular.dicom.files[0]]  # not every slice's header
    marked = regular.with_array(regular.array, dicom=dataclasses.replace(regular.dicom, resampled=True))
    assert "resampled" in seg.dicom_seg_problem(marked)


def test_the_writer_refuses_a_resampled_ct_before_reading_any_header(monkeypatch, tmp_path, regular: Volume) -> None:
    monkeypatch.setattr(seg, "_read_header", lambda path: pytest.fail("a header was read"))
    marked = regular.with_array(regular.array, dicom=dataclasses.replace(regular.dicom, resampled=True))
    with pytest.raises(OutputError, match="resampled"):
        seg.write_dicom_seg(marked.with_array(np.ones(marked.shape, np.uint8)), marked, tmp_path / "seg.dcm")
