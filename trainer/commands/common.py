"""What several ``kneeseg-train`` sub-commands share: compute and schedule options, folds, progress lines,
and the training of nnU-Net's folds (planned data in, per-fold scores out) for ``nnunet`` and ``unet``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kneeseg_app.core.errors import KneeSegError
from kneeseg_app.core.progress import ProgressCallback


def add_compute(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("compute")
    g.add_argument("--device", choices=("cuda", "cpu", "mps"), default="cuda", help="where to train (default cuda)")
    g.add_argument("--num-gpus", type=int, default=1, help="GPUs for nnU-Net's DDP training (default 1)")
    g.add_argument(
        "--threads", type=int, default=None, help="torch/OpenMP threads (default: all cores on CPU, 1 on GPU)"
    )
    g.add_argument(
        "--workers",
        type=int,
        default=None,
        help="nnU-Net data augmentation processes, nnUNet_n_proc_DA (default: 0 on CPU, cores-1 up to 12 on GPU)",
    )


def add_schedule(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--workdir", type=Path, required=True, help="folder holding nnUNet_raw/preprocessed/results")
    g.add_argument("--dataset", required=True, help="dataset ID or DatasetXXX_Name")
    g.add_argument(
        "--folds",
        nargs="+",
        default=["0", "1", "2", "3", "4"],
        help="folds to train: numbers or 'all' (default: 0 1 2 3 4, as the study)",
    )
    g.add_argument("--epochs", type=int, default=None, help="epochs (default: nnU-Net's 1000)")
    g.add_argument("--iterations", type=int, default=None, help="iterations per epoch (default: nnU-Net's 250)")
    g.add_argument("--resume", action="store_true", help="continue folds from their latest checkpoint")
    g.add_argument("--replan", action="store_true", help="plan and preprocess again even if done")
    g.add_argument("--quiet", action="store_true", help="do not echo nnU-Net's output (it is always logged)")


def compute(args: argparse.Namespace):
    """The Compute of the --device/--threads/--workers/--num-gpus options (CUDA checked first)."""
    from trainer.nnunet.env import Compute

    if args.device == "cuda":
        require_cuda(args.num_gpus)
    return Compute(args.device, args.threads, args.workers, args.num_gpus)


def require_cuda(num_gpus: int) -> None:
    import torch

    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if available < num_gpus:
        raise KneeSegError(
            f"{num_gpus} CUDA GPU(s) requested but {available} available; use --device cpu or fewer GPUs."
        )


def folds(values: Sequence[str]) -> list[int | str]:
    out: list[int | str] = []
    for v in values:
        if v == "all":
            out.append("all")
        elif v.isdigit():
            out.append(int(v))
        else:
            raise KneeSegError(f"'{v}' is not a fold (a number or 'all').")
    return out


def printer() -> ProgressCallback:
    """Progress as one line per stage and tenth (training logs stay readable)."""
    last = {"stage": None, "tenth": -1}

    def report(stage: str, fraction: float) -> None:
        tenth = int(fraction * 10)
        if stage != last["stage"] or tenth != last["tenth"]:
            print(f"[{fraction * 100:5.1f}%] {stage}", flush=True)
            last.update(stage=stage, tenth=tenth)

    return report


def trainer_name(architecture: str, epochs: int | None, iterations: int | None) -> str:
    """nnU-Net's own nnUNetTrainer for the paper's unchanged nnU-Net, else a KneeSeg trainer."""
    if architecture == "nnunet" and epochs is None and iterations is None:
        return "nnUNetTrainer"
    from trainer.trainer_names import TrainerSpec

    return TrainerSpec(architecture, epochs or 1000, iterations or 250).class_name


def print_run(run) -> None:
    scores = run.fold_scores()
    for fold, dice in sorted(scores.items()):
        print(f"fold {fold}: validation Dice {dice:.4f}")
    if scores:
        print(f"best fold: {run.best_fold()}")
    print(f"results: {run.folder}")


@dataclass(frozen=True)
class PlannedDataset:
    """A dataset of ``--workdir`` planned and preprocessed for training, with the compute to train it on."""

    folders: Any
    """The NnunetFolders of ``--workdir``."""
    name: str
    """'DatasetXXX_Name'."""
    compute: Any


def planned_dataset(args: argparse.Namespace, configuration: str, small: Any = None) -> PlannedDataset:
    """``--dataset`` planned and preprocessed for ``configuration`` (again with ``--replan``): what both
    trainers start from (``small``: the SmallNetwork that configuration is planned as)."""
    from trainer.nnunet.env import NnunetFolders
    from trainer.nnunet.pipeline import dataset_folder_name, is_preprocessed, plan_and_preprocess

    folders = NnunetFolders.in_workdir(args.workdir)
    resources = compute(args)
    name = dataset_folder_name(folders, args.dataset)
    if args.replan or not is_preprocessed(folders, name, configuration):
        plan_and_preprocess(folders, name, [configuration], small, resources, progress=printer())
    return PlannedDataset(folders, name, resources)


def train_and_report(
    args: argparse.Namespace, data: PlannedDataset, configuration: str, trainer: str, **options: Any
) -> int:
    """Train the ``--folds`` with ``trainer`` on the schedule options, print each fold's score; the exit status.

    ``options`` go on to ``train_folds`` (e.g. ``encoder_weights``).
    """
    from trainer.nnunet.pipeline import train_folds

    run = train_folds(
        data.folders,
        data.name,
        configuration,
        folds(args.folds),
        trainer,
        data.compute,
        args.resume,
        epochs=args.epochs or 1000,
        progress=printer(),
        **options,
    )
    print_run(run)
    return 0
