"""What the window tells people about a model comes from the typed, validated manifest."""

from __future__ import annotations

from pathlib import Path

from onnx_factory import write_model_package

from kneeseg_app.core.model.manifest import update_manifest
from kneeseg_app.core.model.package import load_model_package
from kneeseg_app.core.model.schema import TrainingInfo, ValidationInfo
from kneeseg_app.ui.state.model_info import label_names, model_facts, model_name, not_for_clinical_use


def test_facts_name_the_model_its_bones_spacing_training_and_validation(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m", name="knee", patch_size=(64, 64), target_spacing=(0.8, 0.9))
    update_manifest(
        folder,
        training=TrainingInfo(data="40 phantoms", cases=40),
        validation=ValidationInfo(cases=12, dice={"femur": 0.98, "tibia": 0.97}, hd95_mm={"femur": 1.5, "tibia": 2.0}),
    )
    package = load_model_package(folder)
    facts = dict(model_facts(package))
    assert facts["Name"] == "knee 0.0.1" and facts["Family"] == "nnunet-2d"
    assert facts["Labels"] == "femur, tibia" and facts["Spacing"] == "0.8 x 0.9 mm"
    assert facts["Training data"] == "40 phantoms" and facts["Training cases"] == "40"
    assert facts["Validation Dice"] == "femur 0.980, tibia 0.970"
    assert facts["Validation HD95"] == "femur 1.50, tibia 2.00 mm" and facts["Validation cases"] == "12"
    assert facts["Folder"] == str(package.path)
    assert model_name(package) == "knee" and label_names(package) == {1: "femur", 2: "tibia"}
    assert not_for_clinical_use(package)


def test_facts_a_manifest_does_not_state_are_left_out(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    update_manifest(folder, training=TrainingInfo(), validation=ValidationInfo())
    facts = dict(model_facts(load_model_package(folder)))
    assert facts["Training data"] == "?"
    assert not {"Training cases", "Validation Dice", "Validation HD95", "Validation cases"} & set(facts)
