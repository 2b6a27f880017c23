"""Files no decoder may be trusted with get a sentence of their own, and a volume never holds uninitialised memory.

Every uncompressed transfer syntax is checked: the Pixel Data element must hold rows x
columns x bits allocated x samples x frames bytes, whether its own length is short
(fo-dicom's GH1376 file) or the file ends early. ELSCINT's private compression and
header-only exports are named as such, not as "truncated or corrupt".
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import (
    CTSeries,
    linear_hu,
    truncate_header,
    truncate_pixels,
    write_elscint_compressed,
    write_header_only,
    write_short_pixel_data,
    write_single_short_pixel_data,
)
from pydicom.uid import DeflatedExplicitVRLittleEndian, ExplicitVRBigEndian, ImplicitVRLittleEndian

from kneeseg_app.core.dicom import read_series, scan_folder
from kneeseg_app.core.dicom.headers import HEADER_ONLY_REASON, TRUNCATED_REASON, FileKind, read_header
from kneeseg_app.core.dicom.pixels import check_before_decoding, expected_pixel_bytes
from kneeseg_app.core.errors import NoImageSeriesError, SliceGapError, UnreadableFileError
from kneeseg_app.core.imageio import open_volume


def test_a_slice_whose_pixel_data_is_shorter_than_its_header_says_is_never_decoded(tmp_path: Path) -> None:
    path = write_single_short_pixel_data(tmp_path / "GH1376.dcm")
    header = read_header(str(path)).header
    assert header is not None

    assert (header.pixel_data_length, expected_pixel_bytes(header)) == (4586, 128 * 128 * 2)
    with pytest.raises(
        UnreadableFileError,
        match=r"^The file GH1376\.dcm holds 4586 bytes of pixel data where its "
        r"header announces 128x128 pixels of 16 bits \(32768 bytes\), so part of the image is missing\.$",
    ):
        check_before_decoding(header)


def test_a_series_of_short_slices_is_refused_with_the_length_message(tmp_path: Path) -> None:
    series = CTSeries(n_slices=3)
    paths = series.write(tmp_path)
    for path in paths:
        ds = pydicom.dcmread(path)
        ds.PixelData = bytes(ds.PixelData)[:300]
        ds.save_as(path, enforce_file_format=True)

    with pytest.raises(UnreadableFileError, match=r"No slice of this series could be decoded\. .* holds 300 bytes"):
        open_volume(tmp_path)


def test_a_short_middle_slice_is_a_gap_and_a_short_last_slice_is_skipped_never_read_as_garbage(tmp_path: Path) -> None:
    write_short_pixel_data(tmp_path / "middle")
    series = CTSeries(n_slices=5)
    paths = series.write(tmp_path / "end")
    ds = pydicom.dcmread(paths[-1])
    ds.PixelData = bytes(ds.PixelData)[:200]
    ds.save_as(paths[-1], enforce_file_format=True)

    with pytest.raises(SliceGapError, match=r"IM0003\.dcm could not be read"):
        open_volume(tmp_path / "middle")
    volume = open_volume(tmp_path / "end")
    assert volume.shape == (4, 32, 32)
    assert "holds 200 bytes of pixel data" in volume.warnings[0]
    expected = np.stack([series.slice_hu(p) for p in series.slice_positions()[:4]])
    assert np.array_equal(volume.array, expected)


def test_a_file_cut_inside_its_pixel_data_is_called_truncated(tmp_path: Path) -> None:
    path = truncate_pixels(CTSeries(n_slices=1).write(tmp_path)[0], keep_pixel_bytes=100)
    header = read_header(str(path)).header
    assert header is not None

    assert (header.pixel_data_length, header.pixel_data_available) == (2048, 100)
    with pytest.raises(UnreadableFileError, match=r"ends after 100 of the 2048 bytes of pixel data .* \(truncated\)"):
        check_before_decoding(header)


@pytest.mark.parametrize(
    "syntax",
    [ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian],
    ids=["implicit", "big", "deflated"],
)
def test_every_uncompressed_syntax_reads_whole_slices_and_refuses_short_ones(tmp_path: Path, syntax: str) -> None:
    series = CTSeries(n_slices=3)
    for k, position in enumerate(series.slice_positions()):
        ds = series.dataset(k, position)
        ds.file_meta.TransferSyntaxUID = syntax
        if syntax == ExplicitVRBigEndian:  # pydicom writes OW bytes as given: swap them first
            ds.PixelData = np.frombuffer(ds.PixelData, "<i2").astype(">i2").tobytes()
        for folder, data in (("whole", ds.PixelData), ("short", ds.PixelData[:1000])):
            ds.PixelData = data
            (tmp_path / folder).mkdir(exist_ok=True)
            big = syntax == ExplicitVRBigEndian
            pydicom.dcmwrite(
                tmp_path / folder / f"IM{k}",
                ds,
                implicit_vr=syntax == ImplicitVRLittleEndian,
                little_endian=not big,
                force_encoding=True,
            )

    volume = open_volume(tmp_path / "whole")
    assert (
        np.abs(volume.array - linear_hu(volume.index_to_lps(np.indices(volume.shape).transpose(1, 2, 3, 0)))).max()
        <= 0.5
    )
    header = scan_folder(tmp_path / "short").best().headers[0]
    if syntax != DeflatedExplicitVRLittleEndian:  # a deflated length is known once inflated, when its frames are read
        assert header.pixel_data_length == 1000
    with pytest.raises(UnreadableFileError, match="holds 1000 bytes of pixel data|cannot be decoded"):
        open_volume(tmp_path / "short")


def test_elscint_private_compression_has_its_own_message(tmp_path: Path) -> None:
    write_elscint_compressed(tmp_path)

    with pytest.raises(
        UnreadableFileError, match=r"EL0001 is compressed with ELSCINT's private PMSCT_RLE1 compression"
    ):
        open_volume(tmp_path)
    with pytest.raises(UnreadableFileError, match="ELSCINT's private PMSCT_RLE1 compression") as caught:
        open_volume(tmp_path / "EL0002")
    assert "truncated or corrupt" not in str(caught.value)


def test_header_only_files_are_told_apart_from_truncated_ones(tmp_path: Path) -> None:
    header_only = write_header_only(tmp_path / "headers")
    cut = truncate_header(CTSeries(n_slices=1).write(tmp_path / "cut")[0])

    assert read_header(str(header_only[0])).reason == HEADER_ONLY_REASON
    assert (read_header(str(cut)).kind, read_header(str(cut)).reason) == (FileKind.UNREADABLE, TRUNCATED_REASON)
    with pytest.raises(
        NoImageSeriesError, match=r"could be read \(first: HDR0001: it holds a DICOM header but no pixel data"
    ):
        open_volume(tmp_path / "headers")
    with pytest.raises(Exception, match=r"HDR0002 cannot be read: it holds a DICOM header but no pixel data") as caught:
        open_volume(header_only[1])
    assert "truncated or corrupt" not in str(caught.value)


def test_a_hand_built_header_without_a_length_is_decoded_as_before(tmp_path: Path) -> None:
    series = CTSeries(n_slices=3)
    series.write(tmp_path)
    info = scan_folder(tmp_path).best()
    bare = replace(
        info, headers=tuple(replace(h, pixel_data_length=None, pixel_data_available=None) for h in info.headers)
    )

    assert read_series(bare).shape == (3, 32, 32)


def test_pydicom_warnings_never_reach_the_terminal(tmp_path: Path) -> None:
    """A value pydicom complains about (a DS of 17 characters, a file cut inside its header) prints no WARNING line."""
    series = CTSeries(n_slices=4)
    paths = series.write(tmp_path / "ct")
    truncate_header(paths[-1])
    ds = pydicom.dcmread(paths[0])
    ds["SliceThickness"].value = "1.00000000000000001"
    ds.save_as(paths[0], enforce_file_format=True)

    done = subprocess.run(
        [sys.executable, "-m", "kneeseg_app", "info", str(tmp_path / "ct")], capture_output=True, text=True, timeout=120
    )

    assert done.returncode == 0, done.stderr
    assert "WARNING" not in done.stderr and "UserWarning" not in done.stderr and "pydicom" not in done.stderr
    assert "Skipped 1 unreadable file(s)" in done.stdout
