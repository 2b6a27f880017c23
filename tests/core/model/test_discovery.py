"""Finding models: bundled and per-user folders, broken packages listed with why, the default model."""

from __future__ import annotations

from pathlib import Path

import pytest
from onnx_factory import edit_manifest, threshold_network, write_model_package

from kneeseg_app.core import paths
from kneeseg_app.core.errors import ModelError
from kneeseg_app.core.model.discovery import discover_models, find_model


@pytest.fixture()
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty per-user folder and no bundled models, so discovery sees only the test's."""
    monkeypatch.setenv("KNEESEG_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(paths, "bundled_models_dir", lambda: tmp_path / "bundled")
    (tmp_path / "bundled").mkdir()
    paths.user_models_dir().mkdir(parents=True)
    return tmp_path


def test_one_broken_model_does_not_hide_the_good_ones(home: Path) -> None:
    user = paths.user_models_dir()
    write_model_package(home / "bundled" / "good", name="good")
    write_model_package(user / "also-good", name="also-good")
    broken = write_model_package(user / "broken", name="broken")
    edit_manifest(broken, schema_version=9)
    (user / "stray.onnx").write_bytes(threshold_network().SerializeToString())
    no_manifest = user / "folder-without-manifest"
    no_manifest.mkdir()
    (no_manifest / "model.onnx").write_bytes(b"x")
    (user / "notes.txt").write_text("not a model")

    found = discover_models()
    assert [m.name for m in found.models] == ["good", "also-good"]
    assert [m.origin for m in found.models] == ["bundled", "user"]
    reasons = {path.name: reason for path, reason in found.rejected}
    assert set(reasons) == {"broken", "stray.onnx", "folder-without-manifest"}
    assert "newer KneeSeg" in reasons["broken"]
    assert reasons["stray.onnx"] == "there is no manifest.json beside it"
    assert "no manifest.json" in reasons["folder-without-manifest"]


def test_a_duplicate_name_is_rejected_and_the_bundled_one_kept(home: Path) -> None:
    write_model_package(home / "bundled" / "a", name="same")
    write_model_package(paths.user_models_dir() / "b", name="same")
    found = discover_models()
    assert [m.origin for m in found.models] == ["bundled"]
    assert "already installed" in found.rejected[0][1]


def test_find_model_default_is_the_bundled_model_marked_default(home: Path) -> None:
    write_model_package(home / "bundled" / "a", name="first")
    write_model_package(home / "bundled" / "b", name="marked", default=True)
    write_model_package(paths.user_models_dir() / "c", name="user-one", default=True)
    assert find_model(None).name == "marked"
    assert find_model("user-one").name == "user-one"
    assert find_model(str(paths.user_models_dir() / "c")).name == "user-one"


def test_find_model_without_a_marked_default_takes_the_first_bundled(home: Path) -> None:
    write_model_package(home / "bundled" / "b", name="bbb")
    write_model_package(home / "bundled" / "a", name="aaa")
    assert find_model(None).name == "aaa"


def test_find_model_explains_what_is_missing(home: Path) -> None:
    with pytest.raises(ModelError, match="No segmentation model is installed"):
        find_model(None)
    write_model_package(home / "bundled" / "a", name="present")
    with pytest.raises(ModelError, match=r"No model named 'absent' is installed \(installed: present\)"):
        find_model("absent")
    broken = write_model_package(paths.user_models_dir() / "broken", name="broken")
    edit_manifest(broken, labels={"0": "background", "1": "liver"})
    with pytest.raises(ModelError, match="unknown label scheme"):
        find_model("broken")
