"""KneeSeg's nnU-Net trainer classes: names that record the schedule, found by nnU-Net itself."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.train
for _module in ("torch", "nnunetv2", "timm", "onnx"):
    pytest.importorskip(_module)

from trainer.nnunet.env import Compute, NnunetFolders, nnunet_environment  # noqa: E402
from trainer.nnunet.trainers import TrainerSpec, trainer_class, trainer_spec_from_name  # noqa: E402


def test_a_class_name_records_network_and_schedule_and_reads_back() -> None:
    spec = TrainerSpec("resnet50v2-small", 3, 7)
    assert spec.class_name == "nnUNetTrainerKneeSegResNet50V2Small_3ep_7it"
    assert trainer_spec_from_name(spec.class_name) == spec
    assert trainer_spec_from_name("nnUNetTrainerKneeSeg_1000ep_250it") == TrainerSpec()
    assert trainer_spec_from_name("nnUNetTrainer") is None
    assert trainer_spec_from_name("nnUNetTrainerKneeSeg_3ep") is None


def test_generated_classes_are_nnunet_trainers_with_the_schedule() -> None:
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

    cls = trainer_class("nnUNetTrainerKneeSeg_4ep_9it")
    assert issubclass(cls, nnUNetTrainer) and cls.__name__ == "nnUNetTrainerKneeSeg_4ep_9it"
    assert cls.kneeseg_spec == TrainerSpec("nnunet", 4, 9) and cls.kneeseg_spec.validation_iterations == 1
    assert trainer_class("nnUNetTrainerKneeSeg_4ep_9it") is cls
    assert pickle.loads(pickle.dumps(cls)) is cls  # importable by name, as spawned workers need
    with pytest.raises(ValueError):
        trainer_class("nnUNetTrainerSomethingElse")


def test_nnunet_finds_them_only_through_nnUNet_extTrainer(tmp_path: Path) -> None:
    """nnU-Net's own lookup (used by training and nnUNetPredictor) fails without the variable, works with it."""
    env = nnunet_environment(NnunetFolders.in_workdir(tmp_path), Compute(device="cpu", threads=1))
    script = textwrap.dedent("""
        import os
        from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name
        ext = os.environ.pop("nnUNet_extTrainer")
        try:
            recursive_find_trainer_class_by_name("nnUNetTrainerKneeSegResNet50V2_5ep_20it")
            print("found without")
        except RuntimeError:
            print("not found without")
        os.environ["nnUNet_extTrainer"] = ext
        cls = recursive_find_trainer_class_by_name("nnUNetTrainerKneeSegResNet50V2_5ep_20it")
        print(cls.__name__, cls.kneeseg_spec.epochs, cls.kneeseg_spec.iterations, cls.kneeseg_spec.architecture)
    """)
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert "not found without" in lines
    assert lines[-1] == "nnUNetTrainerKneeSegResNet50V2_5ep_20it 5 20 resnet50v2"
