"""``kneeseg-train quantize``: checked int8 copies of a package's networks, with real
onnxruntime sessions of tiny threshold networks (tests/onnx_factory.py) on small phantom CTs.

The threshold network labels by HU, so it is only as confident as a CT's HU are far from
its thresholds (300 and 900 HU), and int8 activations resolve about 12 HU. The CT that
int8 must pass on has the phantom's bone shapes with uniform bone HU (650 and 1350 HU,
noisy); on the phantom's own textured bone (HU all across 100-1600) a few voxels near the
thresholds flip, which a check that allows no loss at all refuses.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime.quantization")

from kneeseg_app.core.imageio import open_volume  # noqa: E402
from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions  # noqa: E402
from kneeseg_app.core.inference.preprocess import normalized_value  # noqa: E402
from kneeseg_app.core.model.package import load_model_package  # noqa: E402
from kneeseg_app.core.phantom import generate_phantom  # noqa: E402
from trainer import quantize as quantize_module  # noqa: E402
from trainer.cli import main  # noqa: E402
from trainer.errors import QuantizationError  # noqa: E402
from trainer.quantize import calibration_patches, quantize_package  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from onnx_factory import NORMALIZATION, threshold_network, write_model_package  # noqa: E402

SHAPE, SPACING = (24, 128, 128), (4.0, 1.2, 1.2)
COUNT = 8


# ----- helpers ------------------------------------------------------------------------------------------------
def phantom_ct(folder: Path, seed: int = 1, textured: bool = False) -> Path:
    """A small knee phantom as NIfTI; bone HU uniform (650 femur, 1350 tibia, +-20 noise) unless ``textured``."""
    phantom = generate_phantom(seed, shape_zyx=SHAPE, spacing_zyx=SPACING)
    hu = phantom.ct.array.astype(np.float32)
    if not textured:
        hu = np.minimum(hu, 150.0)
        hu[phantom.labels.array == 1] = 650.0
        hu[phantom.labels.array == 2] = 1350.0
        hu += np.random.default_rng(seed).normal(0, 20, hu.shape).astype(np.float32)
    path = folder / f"{'textured' if textured else 'ct'}{seed}.nii.gz"
    sitk.WriteImage(phantom.ct.with_array(hu.round().astype(np.int16)).to_sitk(), str(path), useCompression=True)
    return path


def package(folder: Path, hidden: int = 1, dims: int = 2, **manifest) -> Path:
    """A threshold-network package; ``hidden`` inner convolutions are what int8 quantises."""
    manifest.setdefault("patch_size", (64, 64) if dims == 2 else (16, 64, 64))
    manifest.setdefault("target_spacing", (1.0, 1.0) if dims == 2 else (4.0, 1.0, 1.0))
    return write_model_package(folder, dims=dims, networks=[threshold_network(dims, hidden=hidden)], **manifest)


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under the folder (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def labels(folder: Path, ct: Path, precision: str) -> np.ndarray:
    options = SegmentOptions(precision=precision, postprocess=False, threads=1)
    return Segmenter(load_model_package(folder), options).run(open_volume(ct)).labels.array


def dice(a: np.ndarray, b: np.ndarray, value: int) -> float:
    x, y = a == value, b == value
    return 2.0 * float((x & y).sum()) / float(x.sum() + y.sum())


@pytest.fixture(scope="module")
def cts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("cts")
    return {
        "clean": phantom_ct(folder),
        "other": phantom_ct(folder, seed=2),
        "textured": phantom_ct(folder, textured=True),
    }


@pytest.fixture(scope="module")
def quantized(tmp_path_factory: pytest.TempPathFactory, cts: dict[str, Path]):
    """A package quantised and checked on the clean phantom; (folder, result, float32 bytes before)."""
    folder = package(tmp_path_factory.mktemp("q") / "pkg")
    before = (folder / "fold_0.onnx").read_bytes()
    result = quantize_package(folder, [cts["clean"]], count=COUNT, check_image=cts["clean"], threads=1)
    return folder, result, before


# ----- what a successful run leaves -----------------------------------------------------------------------------
def test_the_manifest_records_an_int8_file_per_network_whose_sha256_matches(quantized) -> None:
    folder, result, before = quantized
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    (entry,) = manifest["networks"]
    assert entry["file"] == "fold_0.onnx" and (folder / "fold_0.onnx").read_bytes() == before
    assert entry["int8_file"] == "fold_0.int8.onnx"
    assert entry["int8_sha256"] == hashlib.sha256((folder / "fold_0.int8.onnx").read_bytes()).hexdigest()
    assert manifest["inference"].get("precision", "float32") == "float32"  # int8 stays opt-in
    assert set(manifest["checks"]["int8_vs_float32_dice"]["ct1.nii.gz"]) == {"femur", "tibia"}
    assert sorted(p.name for p in folder.iterdir()) == ["fold_0.int8.onnx", "fold_0.onnx", "manifest.json"]
    assert result.files == {"fold_0.onnx": "fold_0.int8.onnx"} and result.patches == COUNT


def test_the_int8_file_quantises_the_inner_convolutions_and_keeps_first_and_last_float(quantized) -> None:
    folder, _, _ = quantized
    graph = onnx.load(str(folder / "fold_0.int8.onnx")).graph
    int8_weights = {i.name for i in graph.initializer if i.data_type == onnx.TensorProto.INT8}
    dequantized = {n.output[0]: n.input[0] for n in graph.node if n.op_type == "DequantizeLinear"}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    assert len(convs) == 3
    assert convs[0].input[0] == "input" and convs[0].input[1] == "smooth_w"  # float32 input and weights
    assert dequantized.get(convs[1].input[1]) in int8_weights  # int8 weights, uint8 activations
    assert convs[1].input[0] in dequantized
    assert convs[2].input[1] == "head_w" and convs[2].output[0] == "logits"  # float32 head


def test_the_engine_runs_the_int8_networks_and_labels_like_float32(quantized, cts) -> None:
    folder, result, _ = quantized
    assert (
        Segmenter(load_model_package(folder), SegmentOptions(precision="int8")).networks()[0].file == "fold_0.int8.onnx"
    )
    fp32, int8 = labels(folder, cts["clean"], "float32"), labels(folder, cts["clean"], "int8")
    for value, bone in ((1, "femur"), (2, "tibia")):
        assert (fp32 == value).sum() > 1000
        assert dice(int8, fp32, value) >= 0.998
        assert result.dice["ct1.nii.gz"][bone] == pytest.approx(dice(int8, fp32, value), abs=1e-6)


def test_calibration_patches_are_network_inputs_centred_on_the_bones(cts) -> None:
    manifest = load_model_package(package(Path(cts["clean"]).parent / "calib")).manifest
    patches = calibration_patches([cts["clean"]], manifest, COUNT)
    assert len(patches) == COUNT
    assert all(p.shape == (1, 1, 64, 64) and p.dtype == np.float32 for p in patches)
    femur = normalized_value(500.0, *(NORMALIZATION[k] for k in ("lower", "upper", "mean", "std")))
    assert all(p.max() > femur for p in patches)  # every patch shows bone, none only soft tissue and air


def test_a_dicom_folder_calibrates_like_the_same_ct_as_a_file(cts, tmp_path: Path) -> None:
    from kneeseg_app.core.dicom.write import write_dicom_series

    manifest = load_model_package(package(tmp_path / "pkg")).manifest
    write_dicom_series(open_volume(cts["clean"]), tmp_path / "dicom")
    from_file = calibration_patches([cts["clean"]], manifest, 4)
    from_dicom = calibration_patches([tmp_path / "dicom"], manifest, 4)
    assert len(from_dicom) == 4
    assert max(float(np.abs(a - b).max()) for a, b in zip(from_file, from_dicom)) < 1e-3


def test_without_a_check_image_the_int8_files_are_recorded_unchecked(cts, tmp_path: Path) -> None:
    folder = package(tmp_path / "pkg")
    result = quantize_package(folder, [cts["clean"]], count=4)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["networks"][0]["int8_file"] == "fold_0.int8.onnx" and "checks" not in manifest
    assert "Not checked" in result.text()
    load_model_package(folder).verify()


def test_quantising_again_replaces_the_int8_files_and_keeps_the_package_valid(quantized, cts, tmp_path: Path) -> None:
    folder = tmp_path / "pkg"
    folder.mkdir()
    for file in quantized[0].iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    quantize_package(folder, [cts["other"]], count=4, check_image=cts["clean"], threads=1)
    assert (folder / "fold_0.int8.onnx").read_bytes() != (quantized[0] / "fold_0.int8.onnx").read_bytes()
    load_model_package(folder).verify()
    assert sorted(p.name for p in folder.iterdir()) == ["fold_0.int8.onnx", "fold_0.onnx", "manifest.json"]


def test_a_3d_package_is_calibrated_on_3d_patches_and_checked(cts, tmp_path: Path) -> None:
    folder = package(tmp_path / "pkg3", dims=3)
    result = quantize_package(folder, [cts["clean"]], count=4, check_image=cts["clean"], max_dice_loss=0.005, threads=1)
    assert min(result.dice["ct1.nii.gz"].values()) >= 0.995
    load_model_package(folder).verify()


# ----- refusals leave the package exactly as it was ---------------------------------------------------------------
def test_a_check_that_int8_cannot_meet_leaves_the_package_byte_for_byte_unchanged(cts, tmp_path: Path) -> None:
    folder = package(tmp_path / "pkg")
    before = snapshot(folder)
    with pytest.raises(QuantizationError, match=r"Dice .*need at least 1\.0000.*left as it was"):
        quantize_package(
            folder, [cts["textured"]], count=COUNT, check_image=cts["textured"], max_dice_loss=0.0, threads=1
        )
    assert snapshot(folder) == before


def test_a_broken_quantiser_is_caught_by_the_check(cts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 'quantised' network whose femur starts at 500 HU instead of 300 must never reach the package."""

    def broken(fp32: Path, out: Path, patches) -> None:
        onnx.save(threshold_network(2, hidden=1, femur_hu=500.0), str(out))

    monkeypatch.setattr(quantize_module, "quantize_network", broken)
    folder = package(tmp_path / "pkg")
    before = snapshot(folder)
    with pytest.raises(QuantizationError, match="femur"):
        quantize_package(folder, [cts["textured"]], count=COUNT, check_image=cts["textured"], threads=1)
    assert snapshot(folder) == before


def test_a_network_with_nothing_between_first_and_last_convolution_is_refused(cts, tmp_path: Path) -> None:
    folder = package(tmp_path / "pkg", hidden=0)
    before = snapshot(folder)
    with pytest.raises(QuantizationError, match="would change nothing"):
        quantize_package(folder, [cts["clean"]], count=2)
    assert snapshot(folder) == before


def test_bad_arguments_are_refused_before_anything_is_written(cts, tmp_path: Path) -> None:
    folder = package(tmp_path / "pkg")
    before = snapshot(folder)
    with pytest.raises(QuantizationError, match="at least one CT"):
        quantize_package(folder, [])
    with pytest.raises(QuantizationError, match="between 0 and 1"):
        quantize_package(folder, [cts["clean"]], max_dice_loss=1.5)
    with pytest.raises(QuantizationError, match="at least 1"):
        quantize_package(folder, [cts["clean"]], count=0)
    with pytest.raises(Exception, match="does not exist"):
        quantize_package(folder, [cts["clean"]], count=2, check_image=tmp_path / "missing.nii.gz")
    assert snapshot(folder) == before


# ----- the command ------------------------------------------------------------------------------------------------
def test_the_command_quantises_checks_and_reports_the_dice(cts, tmp_path: Path, capsys) -> None:
    folder = package(tmp_path / "pkg")
    code = main(
        [
            "quantize",
            str(folder),
            "--calibration-images",
            str(cts["clean"]),
            "--count",
            "4",
            "--check-image",
            str(cts["clean"]),
            "--max-dice-loss",
            "0.002",
            "--threads",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "fold_0.int8.onnx" in out and "Dice femur" in out
    assert load_model_package(folder).has_precision("int8")


def test_the_command_names_a_missing_package_in_one_line(cts, tmp_path: Path, capsys) -> None:
    code = main(["quantize", str(tmp_path / "nowhere"), "--calibration-images", str(cts["clean"])])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert "nowhere" in err and "does not exist" in err


def test_the_command_refuses_a_failed_check_in_one_line(cts, tmp_path: Path, capsys) -> None:
    folder = package(tmp_path / "pkg")
    before = snapshot(folder)
    code = main(
        [
            "quantize",
            str(folder),
            "--calibration-images",
            str(cts["textured"]),
            "--count",
            "4",
            "--check-image",
            str(cts["textured"]),
            "--max-dice-loss",
            "0",
            "--threads",
            "1",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("kneeseg-train: The int8 networks label textured1.nii.gz differently")
    assert err.strip().count("\n") == 0
    assert snapshot(folder) == before
