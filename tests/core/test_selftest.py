"""The installation self-test finds every way a copied KneeSeg can be unable to segment.

Real components throughout: the shipped JPEG 2000 / JPEG-lossless DICOM decoded by GDCM
through the app's loader, real ONNX model packages in onnxruntime, the real demo case.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from onnx_factory import write_model_package

from kneeseg_app.core import paths
from kneeseg_app.core.model.package import load_model_package
from kneeseg_app.core.selftest import (
    DECODER_SAMPLES,
    SAMPLE_SHAPE_ZYX,
    check_decoders,
    check_demo,
    check_model,
    decoder_pattern,
    dice_thresholds,
    run_selftest,
    selftest_dir,
)


@pytest.fixture()
def samples_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped samples, to damage."""
    target = tmp_path / "selftest"
    shutil.copytree(selftest_dir(), target)
    return target


@pytest.fixture()
def no_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An installation whose bundled and per-user model folders are empty."""
    monkeypatch.setenv("KNEESEG_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(paths, "bundled_models_dir", lambda: tmp_path / "no-bundled-models")


# ----- the decoder samples ------------------------------------------------------------
def test_decoder_pattern_spans_ct_values_and_has_no_flat_areas() -> None:
    pattern = decoder_pattern()
    assert pattern.dtype == np.int16 and pattern.shape == SAMPLE_SHAPE_ZYX
    assert -1000 <= pattern.min() < -900 and 1800 < pattern.max() <= 2000
    assert len(np.unique(pattern)) > 2000
    assert np.count_nonzero(np.diff(pattern, axis=2) == 0) < pattern.size // 50
    np.testing.assert_array_equal(pattern, decoder_pattern())


def test_shipped_samples_are_small_and_really_compressed() -> None:
    files = sorted(selftest_dir().rglob("*.dcm"))
    assert sum(f.stat().st_size for f in files) < 200_000
    for name, syntax in DECODER_SAMPLES.items():
        sample = sorted((selftest_dir() / name).glob("*.dcm"))
        assert len(sample) == SAMPLE_SHAPE_ZYX[0]
        for file in sample:
            ds = pydicom.dcmread(file, stop_before_pixels=True)
            assert ds.file_meta.TransferSyntaxUID == syntax
            assert ds.file_meta.TransferSyntaxUID.is_compressed
            assert ds.Modality == "CT"


def test_shipped_samples_decode_exactly_through_the_app_loader() -> None:
    result = check_decoders()
    assert result.ok, result.detail
    assert len(result.lines) == len(DECODER_SAMPLES)
    assert all("decoded exactly" in line for line in result.lines)


def test_a_missing_sample_fails_the_decoder_check(samples_copy: Path) -> None:
    shutil.rmtree(samples_copy / "jpeg-lossless")
    result = check_decoders(samples_copy)
    assert not result.ok
    assert "jpeg-lossless" in result.detail and "missing" in result.detail


def test_a_damaged_compressed_stream_fails_the_decoder_check(samples_copy: Path) -> None:
    victim = samples_copy / "jpeg2000-lossless" / "slice_02.dcm"
    data = bytearray(victim.read_bytes())
    ds = pydicom.dcmread(victim)
    start = data.rindex(b"\xff\x4f\xff\x51")  # the JPEG 2000 codestream (SOC, SIZ markers)
    for i in range(start + 200, len(data) - 16):
        data[i] ^= 0x5A
    victim.write_bytes(bytes(data))
    assert ds.file_meta.TransferSyntaxUID == DECODER_SAMPLES["jpeg2000-lossless"]
    result = check_decoders(samples_copy)
    assert not result.ok
    assert "jpeg2000-lossless" in result.detail


def test_an_uncompressed_sample_fails_because_it_would_not_test_the_codec(samples_copy: Path) -> None:
    for file in (samples_copy / "jpeg-lossless").glob("*.dcm"):
        reader = sitk.ImageFileReader()
        reader.SetFileName(str(file))
        reader.LoadPrivateTagsOn()
        image = reader.Execute()
        for key in reader.GetMetaDataKeys():
            image.SetMetaData(key, reader.GetMetaData(key))
        writer = sitk.ImageFileWriter()
        writer.KeepOriginalImageUIDOn()
        writer.SetUseCompression(False)
        writer.SetFileName(str(file))
        writer.Execute(image)
    result = check_decoders(samples_copy)
    assert not result.ok
    assert "transfer syntax" in result.detail


# ----- thresholds -----------------------------------------------------------------------
def test_dice_threshold_is_the_manifest_validation_less_a_margin() -> None:
    needed = dice_thresholds({"femur": 0.97, "tibia": 0.96}, ["femur", "tibia"])
    assert needed == pytest.approx({"femur": 0.92, "tibia": 0.91})


def test_dice_threshold_is_0_9_where_the_manifest_has_no_validation() -> None:
    assert dice_thresholds({}, ["femur", "tibia"]) == {"femur": 0.9, "tibia": 0.9}
    assert dice_thresholds({"femur": 0.99}, ["femur", "tibia"]) == pytest.approx({"femur": 0.94, "tibia": 0.9})


def test_an_explicit_minimum_dice_wins_over_the_manifest() -> None:
    assert dice_thresholds({"femur": 0.99}, ["femur", "tibia"], min_dice=0.5) == {"femur": 0.5, "tibia": 0.5}


# ----- model ----------------------------------------------------------------------------
@pytest.mark.usefixtures("no_models")
def test_no_installed_model_fails_the_model_check_and_skips_the_demo() -> None:
    report = run_selftest()
    by_name = {c.name: c for c in report.checks}
    assert not report.ok
    assert by_name["decoders"].ok
    assert not by_name["model"].ok and "No segmentation model is installed" in by_name["model"].detail
    assert not by_name["demo"].ok and "not run" in by_name["demo"].detail
    assert [c.name for c in report.failures()] == ["model", "demo"]


def test_a_damaged_network_fails_the_model_check(tmp_path: Path) -> None:
    package = write_model_package(tmp_path / "broken")
    onnx_file = package / "fold_0.onnx"
    onnx_file.write_bytes(onnx_file.read_bytes()[:-10] + b"0123456789")
    result, opened = check_model(str(package))
    assert not result.ok and opened is None
    assert "checksum" in result.detail


def test_an_intact_model_opens_in_onnxruntime(tmp_path: Path) -> None:
    package = write_model_package(tmp_path / "tiny", name="tiny-ok")
    result, opened = check_model(str(package))
    assert result.ok, result.detail
    assert opened is not None and opened.name == "tiny-ok"
    assert "networks open" in result.detail


# ----- demo -----------------------------------------------------------------------------
def test_a_model_below_its_validation_dice_on_the_demo_case_fails(tmp_path: Path) -> None:
    # a hand-set HU threshold "model" whose manifest claims Dice 1.0: far below it on the demo knee
    folder = write_model_package(tmp_path / "weak", name="weak", patch_size=(128, 128), target_spacing=(2.0, 2.0))
    result = check_demo(load_model_package(folder))
    assert not result.ok
    assert "Dice below the threshold" in result.detail
    assert any(line.strip().startswith("femur: Dice") for line in result.lines)
    assert any(line.strip().startswith("tibia: Dice") for line in result.lines)
    assert "needs >= 0.950" in "\n".join(result.lines)


def test_a_recorded_demo_case_dice_is_what_an_installed_copy_must_reproduce() -> None:
    from kneeseg_app.core.selftest import REPRODUCTION_MARGIN, reproduction_thresholds

    needed = reproduction_thresholds({"femur": 0.95, "tibia": 0.9}, ["femur", "tibia"])
    assert needed == {"femur": 0.95 - REPRODUCTION_MARGIN, "tibia": 0.9 - REPRODUCTION_MARGIN}
    assert reproduction_thresholds({"femur": 0.95}, ["femur"], min_dice=0.5) == {"femur": 0.5}
