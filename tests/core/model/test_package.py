"""Model packages: valid ones load; every kind of broken one is refused with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from onnx_factory import edit_manifest, renamed_input_network, threshold_network, write_model_package

from kneeseg_app.core.errors import ModelError
from kneeseg_app.core.model.package import ModelPackageError, load_model_package


def _reason(folder: Path) -> str:
    with pytest.raises(ModelPackageError) as info:
        load_model_package(folder)
    assert str(info.value).startswith(f"The model at {folder}")
    return info.value.reason


def test_a_valid_package_loads_with_its_manifest_facts(tmp_path: Path) -> None:
    package = load_model_package(write_model_package(tmp_path / "m"))
    assert package.name == "test-threshold-2d"
    assert package.label_names == {1: "femur", 2: "tibia"}
    assert package.manifest.input.patch_size == (64, 64)
    assert package.manifest.inference.mirror_axes == (0, 1)
    assert package.not_for_clinical_use
    assert "NOT FOR CLINICAL USE" in package.summary()
    assert "femur 1.000" in package.summary()


def test_the_manifest_file_itself_may_be_given(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    assert load_model_package(folder / "manifest.json").path == folder.resolve()


def test_a_newer_schema_is_refused_with_a_clear_reason(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    edit_manifest(folder, schema_version=2)
    assert "needs a newer KneeSeg" in _reason(folder)


def test_a_missing_manifest_is_refused(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    (folder / "manifest.json").unlink()
    assert "no manifest.json" in _reason(folder)


def test_a_missing_required_field_is_named(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    del manifest["input"]["patch_size"]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert "input.patch_size" in _reason(folder)


def test_invalid_json_is_refused(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    (folder / "manifest.json").write_text("{not json")
    assert "not valid JSON" in _reason(folder)


def test_an_unknown_label_scheme_is_refused(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    edit_manifest(folder, labels={"0": "background", "1": "liver", "2": "spleen"})
    assert "unknown label scheme" in _reason(folder)


def test_label_zero_must_be_background(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    edit_manifest(folder, labels={"0": "femur", "1": "tibia", "2": "background"})
    assert "label 0 must be 'background'" in _reason(folder)


def test_a_missing_onnx_file_is_refused(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    (folder / "fold_0.onnx").unlink()
    assert "fold_0.onnx is missing" in _reason(folder)


def test_contradicting_dims_and_patch_are_refused(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["input"]["patch_size"] = [64, 64, 64]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert "input.patch_size" in _reason(folder)


def test_a_wrong_checksum_is_found_before_the_network_is_used(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    package = load_model_package(folder)  # cheap: no hashing yet
    data = (folder / "fold_0.onnx").read_bytes()
    (folder / "fold_0.onnx").write_bytes(data[:-1] + bytes([data[-1] ^ 1]))
    with pytest.raises(ModelError, match="checksum of fold_0.onnx does not match"):
        package.verify()
    with pytest.raises(ModelError, match="checksum"):
        package.open_networks()


def test_a_broken_onnx_file_with_a_matching_checksum_is_refused_at_opening(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    (folder / "fold_0.onnx").write_bytes(b"this is not a protobuf at all")
    import hashlib

    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["networks"][0]["sha256"] = hashlib.sha256(b"this is not a protobuf at all").hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    package = load_model_package(folder)
    package.verify()
    with pytest.raises(ModelError, match="not a valid ONNX model"):
        package.open_networks()


def test_a_foreign_onnx_with_other_tensor_names_is_refused(tmp_path: Path) -> None:
    package = load_model_package(write_model_package(tmp_path / "m", networks=[renamed_input_network()]))
    with pytest.raises(ModelError, match="not one input named 'input'"):
        package.open_networks()


def test_a_3d_network_in_a_2d_package_is_refused_by_rank(tmp_path: Path) -> None:
    package = load_model_package(write_model_package(tmp_path / "m", networks=[threshold_network(3)]))
    with pytest.raises(ModelError, match="rank-5 input but a 2D model needs rank 4"):
        package.open_networks()


def test_opened_networks_run_in_onnxruntime(tmp_path: Path) -> None:
    import numpy as np

    package = load_model_package(
        write_model_package(tmp_path / "m", networks=[threshold_network(), threshold_network()])
    )
    networks = package.open_networks(threads=1)
    assert len(networks) == 2
    out = networks[0].run(np.zeros((2, 1, 16, 24), dtype=np.float32))
    assert out.shape == (2, 3, 16, 24) and out.dtype == np.float32


def test_nothing_in_the_model_path_can_unpickle() -> None:
    """ONNX files are data: no pickle-capable loader is imported or called."""
    import ast

    core = Path(__file__).resolve().parents[3] / "kneeseg_app" / "core"
    modules = sorted([*(core / "model").rglob("*.py"), *(core / "inference").rglob("*.py")])
    assert len(modules) >= 8
    for path in modules:
        name = path.name
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not imported & {"pickle", "torch", "joblib", "dill", "cloudpickle"}, name
        calls = {n.func.attr for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)}
        assert "load" not in calls, f"{name} calls a .load() (np.load/pickle.load can unpickle)"
