"""Plan, preprocess and train nnU-Net v2 (and the custom U-Net) for chosen folds.

Every nnU-Net step runs in :mod:`trainer.nnunet.worker` through
:func:`trainer.nnunet.env.run_nnunet_step`, with nnU-Net's folders and worker counts
set for that process only. After training, the fold with the best validation Dice is
recorded (``kneeseg_folds.json`` in the results folder): the study exported the best of
five folds; an ensemble of all folds is the alternative (``export --folds all``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress, scaled
from trainer.errors import DatasetError, TrainingError
from trainer.nnunet.env import Compute, NnunetFolders, nnunet_environment, run_nnunet_step
from trainer.nnunet.run import TrainedRun

PLANS = "nnUNetPlans"
UNET_CONFIGURATION = "2d_resunet"


@dataclass(frozen=True)
class SmallNetwork:
    """A CPU-friendly nnU-Net 2D configuration: fewer features, optionally coarser in-plane spacing.

    Planned by nnU-Net's own planner as configuration ``name`` (inheriting '2d').
    """

    base_features: int = 16
    max_features: int = 224
    spacing_mm: float | None = None
    batch_size: int | None = None
    name: str = "2d_small"
    max_patch: int | None = None
    """Largest patch edge (voxels) nnU-Net's planner may choose; smaller patches make CPU
    iterations cheaper, and the planner derives the number of stages from the patch."""

    def job(self) -> dict:
        return {
            "name": self.name,
            "base_features": self.base_features,
            "max_features": self.max_features,
            "spacing": None if self.spacing_mm is None else [self.spacing_mm, self.spacing_mm],
            "batch_size": self.batch_size,
            "max_patch": self.max_patch,
        }


def dataset_folder_name(folders: NnunetFolders, dataset: str | int) -> str:
    """'DatasetXXX_Name' for an ID or a name, looked up in the raw and preprocessed folders."""
    text = str(dataset)
    if text.startswith("Dataset"):
        return text
    try:
        prefix = f"Dataset{int(text):03d}_"
    except ValueError:
        raise DatasetError(f"'{dataset}' is neither a dataset ID nor a DatasetXXX_Name folder name.") from None
    for root in (folders.raw, folders.preprocessed):
        found = sorted(p.name for p in root.glob(prefix + "*") if p.is_dir()) if root.is_dir() else []
        if found:
            return found[0]
    raise DatasetError(f"No dataset with ID {text} in {folders.raw}; run 'kneeseg-train prepare' first.")


def dataset_id(name: str) -> int:
    return int(name[len("Dataset") : len("Dataset") + 3])


def plans_file(folders: NnunetFolders, name: str) -> Path:
    return folders.preprocessed / name / f"{PLANS}.json"


def is_preprocessed(folders: NnunetFolders, name: str, configuration: str) -> bool:
    """True when the plans hold ``configuration`` and its preprocessed data exist."""
    path = plans_file(folders, name)
    if not path.is_file():
        return False
    plans = json.loads(path.read_text(encoding="utf-8"))
    configurations = plans.get("configurations", {})
    if configuration not in configurations:
        return False
    identifier = _resolved(configurations, configuration).get("data_identifier", "")
    data = folders.preprocessed / name / identifier
    return data.is_dir() and any(data.iterdir())


def _resolved(configurations: dict, name: str) -> dict:
    config = dict(configurations[name])
    parent = config.get("inherits_from")
    return {**_resolved(configurations, parent), **config} if parent else config


def plan_and_preprocess(
    folders: NnunetFolders,
    dataset: str | int,
    configurations: Sequence[str] = ("2d",),
    small: SmallNetwork | None = None,
    compute: Compute = Compute(),
    log: Path | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Fingerprint, plan (nnU-Net's default planner, plus ``small``) and preprocess; returns the plans file."""
    name = dataset_folder_name(folders, dataset)
    if not (folders.raw / name / "dataset.json").is_file():
        raise DatasetError(f"{folders.raw / name} holds no dataset.json; run 'kneeseg-train prepare' first.")
    job = {
        "dataset_id": dataset_id(name),
        "configurations": [c for c in configurations if c != (small and small.name)],
        "small": small.job() if small else None,
        "processes": compute.export_workers,
    }
    env = nnunet_environment(folders, compute.for_planning())
    run_nnunet_step("plan", job, env, log or folders.results / name / "kneeseg_logs" / "plan.log", progress, cancel)
    return plans_file(folders, name)


def ensure_unet_configuration(folders: NnunetFolders, name: str, base: str = "2d") -> str:
    """The configuration the ResNet U-Net trains on: ``base``, or a copy whose patch is a multiple of 32.

    The copy keeps ``base``'s data identifier, so it reuses the same preprocessed data
    (same spacing and normalisation as nnU-Net's network: a fair comparison).
    """
    from trainer.unet import ENCODER_STRIDE

    path = plans_file(folders, name)
    plans = json.loads(path.read_text(encoding="utf-8"))
    config = _resolved(plans["configurations"], base)
    patch = [int(p) for p in config["patch_size"]]
    if len(patch) != 2:
        raise TrainingError(f"The custom U-Net is 2D; configuration {base} is {len(patch)}D.")
    if all(p % ENCODER_STRIDE == 0 for p in patch):
        return base
    rounded = [-(-p // ENCODER_STRIDE) * ENCODER_STRIDE for p in patch]
    plans["configurations"][UNET_CONFIGURATION] = {"inherits_from": base, "patch_size": rounded}
    path.write_text(json.dumps(plans, indent=4) + "\n", encoding="utf-8")
    return UNET_CONFIGURATION


def results_folder(folders: NnunetFolders, name: str, trainer: str, configuration: str) -> Path:
    return folders.results / name / f"{trainer}__{PLANS}__{configuration}"


def available_folds(folders: NnunetFolders, name: str) -> int:
    """How many cross-validation splits the dataset has (patient-grouped ones from ``prepare``)."""
    for path in (folders.preprocessed / name / "splits_final.json", folders.raw / name / "splits_final.json"):
        if path.is_file():
            return len(json.loads(path.read_text(encoding="utf-8")))
    return 5


def train_folds(
    folders: NnunetFolders,
    dataset: str | int,
    configuration: str,
    folds: Sequence[int | str],
    trainer: str,
    compute: Compute = Compute(),
    resume: bool = False,
    encoder_weights: Path | None = None,
    epochs: int | None = None,
    log_dir: Path | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> TrainedRun:
    """Train (or resume) each fold in turn with nnU-Net's ``run_training``; returns the run."""
    name = dataset_folder_name(folders, dataset)
    n_splits = available_folds(folders, name)
    bad = [f for f in folds if f != "all" and not 0 <= int(f) < n_splits]
    if bad:
        raise DatasetError(
            f"Fold(s) {', '.join(map(str, bad))} do not exist: the dataset has {n_splits} "
            f"patient-grouped folds (0-{n_splits - 1}) or 'all'."
        )
    if not is_preprocessed(folders, name, configuration):
        raise TrainingError(f"Configuration {configuration} of {name} is not preprocessed; plan it first.")
    env = nnunet_environment(folders, compute)
    labels = json.loads((folders.preprocessed / name / "dataset.json").read_text(encoding="utf-8"))["labels"]
    out = results_folder(folders, name, trainer, configuration)
    logs = log_dir or out / "kneeseg_logs"
    for i, fold in enumerate(folds):
        job = {
            "dataset": name,
            "configuration": configuration,
            "fold": fold,
            "trainer": trainer,
            "plans": PLANS,
            "device": compute.device,
            "num_gpus": compute.num_gpus,
            "threads": compute.torch_threads,
            "continue": resume and (out / f"fold_{fold}").is_dir(),
            "encoder_weights": str(encoder_weights) if encoder_weights else None,
            "start_weights_file": str(out / "kneeseg_start_weights.pth"),
            "num_outputs": len(labels),
        }
        run_nnunet_step(
            "train",
            job,
            env,
            logs / f"train_fold_{fold}.log",
            scaled(progress, i / len(folds), (i + 1) / len(folds)),
            cancel,
            epochs=epochs,
        )
    run = TrainedRun.from_folder(out)
    write_fold_selection(run)
    return run


def write_fold_selection(run: TrainedRun) -> dict:
    """Record each fold's validation Dice and the best fold in ``kneeseg_folds.json``."""
    scores = run.fold_scores()
    selection = {
        "validation_dice": {str(k): v for k, v in sorted(scores.items())},
        "best_fold": run.best_fold() if scores else None,
        "rule": "highest nnU-Net validation foreground-mean Dice (fold_X/validation/summary.json)",
    }
    (run.folder / "kneeseg_folds.json").write_text(json.dumps(selection, indent=2) + "\n", encoding="utf-8")
    return selection
