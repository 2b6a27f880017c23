"""The trainer's manifest: built from an nnU-Net run's own files as the typed schema, accepted by the app."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from kneeseg_app.core.errors import ModelError
from kneeseg_app.core.model.manifest import write_manifest
from kneeseg_app.core.model.package import load_model_package
from kneeseg_app.core.model.schema import NetworkFile, ValidationInfo
from trainer.manifest import PackageInfo, build_manifest
from trainer.nnunet.run import TrainedRun

CONFIGURATION = {
    "patch_size": [192, 160],
    "spacing": [0.9, 0.8],
    "normalization_schemes": ["CTNormalization"],
    "resampling_fn_data": "resample_data_or_seg_to_shape",
    "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
    "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
    "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0, "force_separate_z": None},
    "architecture": {"arch_kwargs": {"strides": [[1, 1], [2, 2], [2, 2], [2, 2], [2, 2], [2, 2]]}},
}


def a_run(folder: Path) -> TrainedRun:
    """What an nnU-Net 2D run's plans.json and dataset.json say (the numbers the app must reproduce)."""
    plans = {
        "dataset_name": "Dataset901_KneePhantoms",
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "foreground_intensity_properties_per_channel": {
            "0": {"percentile_00_5": -55.0, "percentile_99_5": 1876.0, "mean": 465.0, "std": 482.0}
        },
    }
    dataset = {"labels": {"background": 0, "femur": 1, "tibia": 2}, "channel_names": {"0": "CT"}, "numTraining": 40}
    run_folder = folder / "nnUNetTrainer__nnUNetPlans__2d"
    return TrainedRun(run_folder, "nnUNetTrainer", "nnUNetPlans", "2d", plans, dataset, {})


def test_a_built_manifest_is_written_validated_and_read_back_with_the_runs_numbers(tmp_path: Path) -> None:
    (tmp_path / "fold_0.onnx").write_bytes(b"onnx bytes")
    network = NetworkFile(file="fold_0.onnx", sha256=hashlib.sha256(b"onnx bytes").hexdigest(), fold=0)
    info = PackageInfo(name="knee", synthetic=True, recipe={"epochs": 2})
    validation = ValidationInfo(cases=4, dice={"femur": 0.9, "tibia": 0.8}, source="nnU-Net validation of fold(s) 0")
    manifest = build_manifest(a_run(tmp_path), CONFIGURATION, info, [network], "nnunet", [0, 1], validation)
    write_manifest(tmp_path, manifest)

    read = load_model_package(tmp_path).manifest
    assert read == manifest
    assert read.family == "nnunet-2d" and read.input.patch_size == (192, 160)
    assert read.input.divisibility == (32, 32)  # the product of the run's strides per axis
    assert (read.normalization.lower, read.normalization.upper) == (-55.0, 1876.0)
    assert read.labels == {0: "background", 1: "femur", 2: "tibia"}
    assert read.postprocessing.largest_component == (1, 2)
    assert read.source is not None and read.source.dataset == "Dataset901_KneePhantoms"
    assert read.recipe == {"epochs": 2} and read.validation.source.startswith("nnU-Net")


def test_a_synthetic_model_cannot_be_marked_for_clinical_use(tmp_path: Path) -> None:
    info = PackageInfo(name="knee", synthetic=True, clinical_use=True)
    with pytest.raises(ModelError, match="synthetic data cannot be marked for clinical use"):
        build_manifest(a_run(tmp_path), CONFIGURATION, info, [], "nnunet", [], None)
