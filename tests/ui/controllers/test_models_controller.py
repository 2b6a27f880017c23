"""The model list: usable and unusable models, the remembered choice, adding a package."""

from __future__ import annotations

import json

import pytest
from onnx_factory import edit_manifest, write_model_package

from kneeseg_app.core import paths
from kneeseg_app.core.errors import ModelError
from kneeseg_app.ui.controllers.models_controller import ModelsController
from kneeseg_app.ui.state.model_info import model_facts, not_for_clinical_use


def test_usable_and_unusable_models_are_listed_with_the_reason(qtbot, threshold_model) -> None:
    broken = write_model_package(paths.user_models_dir() / "broken", name="broken-model")
    edit_manifest(broken, schema_version=99)
    controller = ModelsController()
    controller.refresh()
    by_name = {e.name: e for e in controller.entries}
    assert by_name["test-threshold-2d"].usable
    assert not by_name["broken"].usable and "schema" in by_name["broken"].reason.lower()
    assert controller.selected is not None and controller.selected.usable


def test_the_choice_is_remembered_and_restored(qtbot, threshold_model) -> None:
    write_model_package(paths.user_models_dir() / "second", name="second-model")
    remembered = []
    controller = ModelsController(remember=remembered.append)
    controller.refresh()
    controller.select("second-model")
    assert remembered == ["second-model"]
    again = ModelsController()
    again.refresh(preferred=remembered[-1])
    assert again.selected.name == "second-model"


def test_manifest_facts_say_what_a_surgeon_must_know(threshold_model) -> None:
    controller = ModelsController()
    controller.refresh()
    controller.select("test-threshold-2d")
    facts = dict(model_facts(controller.package))
    assert facts["Family"] == "nnunet-2d"
    assert facts["Labels"] == "femur, tibia"
    assert facts["Spacing"] == "1 x 1 mm"
    assert "femur 1.000" in facts["Validation Dice"]
    assert not_for_clinical_use(controller.package)


def test_adding_a_package_validates_copies_and_selects_it(qtbot, kneeseg_home, tmp_path) -> None:
    source = write_model_package(tmp_path / "downloads" / "new-model", name="new-model")
    controller = ModelsController()
    controller.refresh()
    entry = controller.add_package(source)
    assert entry.usable and entry.path == (paths.user_models_dir() / "new-model").resolve()
    assert (
        json.loads((paths.user_models_dir() / "new-model" / "manifest.json").read_text(encoding="utf-8"))["name"]
        == "new-model"
    )
    assert controller.selected.name == "new-model"
    assert source.is_dir()  # the original is left alone
    with pytest.raises(ModelError, match="already installed"):
        controller.add_package(source)


def test_adding_an_invalid_package_says_why_and_copies_nothing(kneeseg_home, tmp_path) -> None:
    source = write_model_package(tmp_path / "bad", name="bad-model")
    (source / "fold_0.onnx").write_bytes(b"not onnx")
    edit_manifest(source, networks=[{"file": "missing.onnx", "sha256": "0" * 64}])
    with pytest.raises(ModelError, match="missing"):
        ModelsController().add_package(source)
    assert not (paths.user_models_dir() / "bad-model").exists()
    assert (
        not any(p.name.startswith(".") for p in paths.user_models_dir().glob("*"))
        if paths.user_models_dir().exists()
        else True
    )
