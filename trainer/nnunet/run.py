"""A finished nnU-Net training run: its files, networks and nnU-Net's own predictor.

A run is nnU-Net's results folder ``<trainer>__<plans>__<configuration>`` holding
``plans.json``, ``dataset.json``, ``dataset_fingerprint.json`` and ``fold_X/``
checkpoints. Export and evaluation read everything they need from here, so a run
copied from the GPU workstation to another machine can still be exported.

Networks are rebuilt exactly as nnU-Net's predictor rebuilds them (the trainer class's
``build_network_architecture`` without deep supervision) but without nnU-Net's class
search for KneeSeg's own trainers, so no environment variable is needed here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainer.errors import TrainingError

CHECKPOINTS = {"final": "checkpoint_final.pth", "best": "checkpoint_best.pth"}


@dataclass
class TrainedRun:
    folder: Path
    trainer: str
    plans_name: str
    configuration: str
    plans: dict
    dataset_json: dict
    fingerprint: dict

    @classmethod
    def from_folder(cls, folder: str | Path) -> TrainedRun:
        """Read a results folder (TrainingError when it is not one)."""
        path = Path(folder).resolve()
        parts = path.name.split("__")
        if len(parts) != 3:
            raise TrainingError(f"{path} is not an nnU-Net results folder (<trainer>__<plans>__<configuration>).")
        files = {}
        for name in ("plans.json", "dataset.json", "dataset_fingerprint.json"):
            try:
                files[name] = json.loads((path / name).read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError) as exc:
                raise TrainingError(f"The results folder {path} lacks a readable {name} ({exc}).") from exc
        return cls(
            path,
            parts[0],
            parts[1],
            parts[2],
            files["plans.json"],
            files["dataset.json"],
            files["dataset_fingerprint.json"],
        )

    @property
    def dataset_name(self) -> str:
        return str(self.plans["dataset_name"])

    def checkpoint(self, fold: int | str, which: str = "final") -> Path:
        return self.folder / f"fold_{fold}" / CHECKPOINTS[which]

    def trained_folds(self, which: str = "final") -> list[int]:
        """Folds that have the checkpoint ``which`` (fold 'all' is not a cross-validation fold)."""
        folds = []
        for sub in sorted(self.folder.glob("fold_*")):
            suffix = sub.name[len("fold_") :]
            if suffix.isdigit() and (sub / CHECKPOINTS[which]).is_file():
                folds.append(int(suffix))
        return folds

    def configuration_dict(self) -> dict:
        """The configuration with ``inherits_from`` resolved (nnU-Net's PlansManager)."""
        return dict(self.plans_manager().get_configuration(self.configuration).configuration)

    def plans_manager(self) -> Any:
        from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

        return PlansManager(self.plans)

    def validation_dice(self, fold: int) -> dict[str, float] | None:
        """nnU-Net's validation Dice of a fold: 'foreground' (mean) and per label name."""
        summary = self.folder / f"fold_{fold}" / "validation" / "summary.json"
        if not summary.is_file():
            return None
        data = json.loads(summary.read_text(encoding="utf-8"))
        names = {str(v): k for k, v in self.dataset_json["labels"].items()}
        scores = {"foreground": float(data["foreground_mean"]["Dice"])}
        for label, metrics in data.get("mean", {}).items():
            scores[names.get(str(label), str(label))] = float(metrics["Dice"])
        scores["cases"] = float(len(data.get("metric_per_case", [])))
        return scores

    def fold_scores(self) -> dict[int, float]:
        """Validation foreground Dice of every trained fold that nnU-Net has validated."""
        scores = {}
        for fold in self.trained_folds():
            dice = self.validation_dice(fold)
            if dice is not None:
                scores[fold] = dice["foreground"]
        return scores

    def best_fold(self) -> int:
        """The fold with the highest validation Dice (the study's model selection; ties: lowest fold)."""
        scores = self.fold_scores()
        if not scores:
            raise TrainingError(
                f"No fold in {self.folder} has nnU-Net's validation summary; train (and validate) first."
            )
        return max(sorted(scores), key=lambda fold: scores[fold])


def trainer_class_for(name: str) -> Any:
    """The trainer class called ``name``: KneeSeg's own, else found by nnU-Net's search."""
    from trainer.nnunet.trainers import trainer_class, trainer_spec_from_name

    if trainer_spec_from_name(name) is not None:
        return trainer_class(name)
    from nnunetv2.utilities.find_objects import recursive_find_trainer_class_by_name

    return recursive_find_trainer_class_by_name(name)


@dataclass
class LoadedNetworks:
    """One network module and the weights of each fold (nnU-Net's predictor layout)."""

    network: Any
    weights: list[dict]
    folds: list[int]
    mirror_axes: tuple[int, ...]
    architecture: str
    """'nnunet' or 'resnet50v2' / 'resnet50v2-small'."""


def load_networks(run: TrainedRun, folds: Sequence[int], which: str = "final") -> LoadedNetworks:
    """Rebuild the network of ``run`` (no deep supervision) and read each fold's weights."""
    import torch
    from nnunetv2.utilities.label_handling.label_handling import determine_num_input_channels

    from trainer.nnunet.trainers import trainer_spec_from_name

    if not folds:
        raise TrainingError(f"No fold to load from {run.folder}.")
    weights = []
    mirror: tuple[int, ...] = ()
    for fold in folds:
        path = run.checkpoint(fold, which)
        if not path.is_file():
            raise TrainingError(f"Fold {fold} has no {path.name} in {run.folder}; train it first.")
        # nnU-Net checkpoints hold numpy scalars (logging, EMA), so weights_only=False: our own training output
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
        weights.append(checkpoint["network_weights"])
        mirror = tuple(int(a) for a in (checkpoint.get("inference_allowed_mirroring_axes") or ()))
    plans_manager = run.plans_manager()
    configuration = plans_manager.get_configuration(run.configuration)
    n_in = determine_num_input_channels(plans_manager, configuration, run.dataset_json)
    n_out = plans_manager.get_label_manager(run.dataset_json).num_segmentation_heads
    network = trainer_class_for(run.trainer).build_network_architecture(
        plans_manager, configuration, n_in, n_out, enable_deep_supervision=False
    )
    network.load_state_dict(weights[0])
    network.eval()
    spec = trainer_spec_from_name(run.trainer)
    return LoadedNetworks(network, weights, list(folds), mirror, spec.architecture if spec else "nnunet")


def nnunet_predictor(
    run: TrainedRun, loaded: LoadedNetworks, *, tta: bool, tile_step_size: float = 0.5, threads: int = 1
) -> Any:
    """nnU-Net's own ``nnUNetPredictor`` (CPU) for ``run`` with the given networks."""
    import torch
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    torch.set_num_threads(max(1, threads))
    predictor = nnUNetPredictor(
        tile_step_size=tile_step_size,
        use_gaussian=True,
        use_mirroring=tta,
        perform_everything_on_device=False,
        device=torch.device("cpu"),
        verbose=False,
        verbose_preprocessing=False,
        allow_tqdm=False,
    )
    plans_manager = run.plans_manager()
    predictor.manual_initialization(
        loaded.network,
        plans_manager,
        plans_manager.get_configuration(run.configuration),
        loaded.weights,
        run.dataset_json,
        run.trainer,
        loaded.mirror_axes,
    )
    return predictor


def nnunet_predict_file(predictor: Any, image_path: str | Path, probabilities: bool = False) -> Any:
    """Label map (z, y, x numpy) of one image file by nnU-Net's predictor; with
    ``probabilities`` also the class probabilities (C, z, y, x) on the image's grid."""
    from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO

    image, properties = SimpleITKIO().read_images([str(image_path)])
    return predictor.predict_single_npy_array(image, properties, None, None, probabilities)
