"""nnU-Net's environment is built for child processes only, and a failed step says where its log is."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trainer.errors import TrainingError
from trainer.nnunet.env import (
    Compute,
    NnunetFolders,
    ext_trainer_dir,
    nnunet_environment,
    run_nnunet_step,
    shell_exports,
)

pytestmark = pytest.mark.train


def test_the_environment_names_folders_workers_and_trainer_location_without_touching_ours(tmp_path: Path) -> None:
    before = dict(os.environ)
    env = nnunet_environment(NnunetFolders.in_workdir(tmp_path), Compute(device="cpu", threads=2))
    assert os.environ == before
    assert env["nnUNet_raw"] == str(tmp_path.resolve() / "nnUNet_raw")
    assert env["nnUNet_results"] == str(tmp_path.resolve() / "nnUNet_results")
    assert env["nnUNet_n_proc_DA"] == "0" and env["OMP_NUM_THREADS"] == "2"
    assert Path(env["nnUNet_extTrainer"]) == ext_trainer_dir()
    assert (ext_trainer_dir() / "kneeseg_trainers.py").is_file()
    assert str(Path(__file__).resolve().parents[3]) in env["PYTHONPATH"].split(os.pathsep)
    assert "export nnUNet_extTrainer=" in shell_exports(env)


def test_planning_gets_at_least_one_worker_because_nnunet_sets_threads_from_it() -> None:
    compute = Compute(device="cpu", augmentation_workers=0)
    assert compute.da_workers == 0 and compute.for_planning().da_workers == 1


def test_a_failed_step_raises_with_the_reason_and_the_log(tmp_path: Path) -> None:
    pytest.importorskip("nnunetv2")
    env = nnunet_environment(NnunetFolders.in_workdir(tmp_path), Compute(device="cpu", threads=1).for_planning())
    log = tmp_path / "logs" / "plan.log"
    with pytest.raises(TrainingError, match=r"nnU-Net step 'plan' failed .*plan\.log"):
        run_nnunet_step("plan", {"dataset_id": 999, "processes": 1}, env, log, echo=False)
    assert "Traceback" in log.read_text(encoding="utf-8")
