"""The process in which nnU-Net runs: ``python -m trainer.nnunet.worker STEP JOB_JSON``.

Started only by :func:`trainer.nnunet.env.run_nnunet_step`, with nnU-Net's environment
already complete (folders, worker counts, ``nnUNet_extTrainer``); this module reads it
and never changes it. Steps call nnU-Net's Python API:

* ``plan``: fingerprint (with nnU-Net's dataset integrity check), nnU-Net's default
  experiment planner, optionally a "small" 2D configuration, then preprocessing.
* ``train``: ``nnunetv2.run.run_training.run_training`` for one fold (DDP when
  ``num_gpus`` > 1, nnU-Net's own mechanism), including nnU-Net's final validation.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def plan(job: dict) -> None:
    from nnunetv2.experiment_planning.plan_and_preprocess_api import (
        extract_fingerprints,
        plan_experiments,
        preprocess,
    )

    dataset_id = int(job["dataset_id"])
    processes = int(job.get("processes", 1))
    extract_fingerprints(
        [dataset_id], num_processes=processes, check_dataset_integrity=True, clean=True, show_progress_bar=False
    )
    plans_name = plan_experiments([dataset_id])
    configurations = list(job.get("configurations", ["2d"]))
    small = job.get("small")
    if small:
        add_small_2d_configuration(dataset_id, plans_name, **small)
        configurations.append(small["name"])
    preprocess(
        [dataset_id],
        plans_identifier=plans_name,
        configurations=tuple(dict.fromkeys(configurations)),
        num_processes=(processes,),
        show_progress_bar=False,
    )


def add_small_2d_configuration(
    dataset_id: int,
    plans_name: str,
    *,
    name: str,
    base_features: int,
    max_features: int,
    spacing: list[float] | None = None,
    batch_size: int | None = None,
    max_patch: int | None = None,
) -> dict:
    """Plan a narrower 2D network (optionally at a coarser in-plane spacing) as ``name``.

    nnU-Net's own planner computes the patch size, pooling and kernel sizes for the new
    spacing and feature counts, so the configuration is as consistent as '2d'; it is
    stored as a configuration that ``inherits_from`` '2d' and overrides what differs.
    ``max_patch`` caps the in-plane size the planner starts from (it never plans a patch
    larger than the median image), so stages and pooling stay the planner's own.
    """
    import numpy as np
    from batchgenerators.utilities.file_and_folder_operations import load_json, save_json
    from nnunetv2.experiment_planning.experiment_planners.default_experiment_planner import ExperimentPlanner
    from nnunetv2.paths import nnUNet_preprocessed
    from nnunetv2.preprocessing.resampling.default_resampling import compute_new_shape
    from nnunetv2.utilities.dataset_name_id_conversion import convert_id_to_dataset_name
    from nnunetv2.utilities.json_export import recursive_fix_for_json_export

    dataset_name = convert_id_to_dataset_name(dataset_id)
    plans_file = Path(str(nnUNet_preprocessed)) / dataset_name / f"{plans_name}.json"
    plans = load_json(str(plans_file))
    planner = ExperimentPlanner(dataset_id, plans_name=plans_name)
    planner.UNet_base_num_features = base_features
    planner.UNet_max_features_2d = max_features

    forward = plans["transpose_forward"]
    fullres = np.array(planner.determine_fullres_target_spacing(), dtype=float)
    target_t = fullres[forward]
    if spacing is not None:
        target_t[1:] = spacing
    target = np.empty(3)
    target[forward] = target_t  # back to the image's axis order
    fingerprint = planner.dataset_fingerprint
    shapes = [
        compute_new_shape(shape, sp, target)
        for sp, shape in zip(fingerprint["spacings"], fingerprint["shapes_after_crop"])
    ]
    median_t = np.median(shapes, 0)[forward]
    n_voxels = float(np.prod(median_t, dtype=np.float64) * planner.dataset_json["numTraining"])
    planned_shape = median_t[1:] if max_patch is None else np.minimum(median_t[1:], max_patch)
    plan = planner.get_plans_for_configuration(target_t[1:], planned_shape, f"{plans_name}_{name}", n_voxels, {})
    plan["median_image_size_in_voxels"] = median_t[1:]
    if batch_size:
        plan["batch_size"] = int(batch_size)
    keys = ("data_identifier", "batch_size", "patch_size", "median_image_size_in_voxels", "spacing", "architecture")
    configuration = {"inherits_from": "2d", **{k: plan[k] for k in keys}}
    recursive_fix_for_json_export(configuration)
    plans["configurations"][name] = configuration
    save_json(plans, str(plans_file), sort_keys=False)
    print(
        f"Added configuration {name}: patch {configuration['patch_size']}, spacing {configuration['spacing']}, "
        f"features {configuration['architecture']['arch_kwargs']['features_per_stage']}, "
        f"batch {configuration['batch_size']}"
    )
    return configuration


def train(job: dict) -> None:
    import torch
    from nnunetv2.run.run_training import run_training

    device = torch.device(job.get("device", "cuda"))
    threads = int(job.get("threads") or 1)
    torch.set_num_threads(threads)
    if device.type == "cuda":
        torch.set_num_interop_threads(1)
    pretrained = job.get("pretrained_weights")
    if job.get("encoder_weights") and not job.get("continue"):
        pretrained = str(write_encoder_start_weights(job))
    run_training(
        str(job["dataset"]),
        job["configuration"],
        job["fold"],
        trainer_class_name=job["trainer"],
        plans_identifier=job.get("plans", "nnUNetPlans"),
        pretrained_weights=pretrained,
        num_gpus=int(job.get("num_gpus", 1)),
        continue_training=bool(job.get("continue")),
        device=device,
    )


def write_encoder_start_weights(job: dict) -> Path:
    """Start weights for the custom U-Net: pretrained encoder, freshly initialised decoder.

    Written in nnU-Net's checkpoint layout so ``run_training(pretrained_weights=...)``
    loads them through nnU-Net's own ``load_pretrained_weights``.
    """
    import torch

    from trainer.nnunet.trainers import trainer_spec_from_name
    from trainer.unet import ResNetV2UNet

    spec = trainer_spec_from_name(job["trainer"])
    if spec is None or spec.architecture == "nnunet":
        raise SystemExit("encoder weights are only used by the ResNet50V2 U-Net trainers")
    network = ResNetV2UNet(
        1, int(job["num_outputs"]), small=spec.architecture.endswith("small"), encoder_weights=job["encoder_weights"]
    )
    target = Path(job["start_weights_file"])
    target.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"network_weights": network.state_dict()}, target)
    return target


STEPS = {"plan": plan, "train": train}


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in STEPS:
        print(f"usage: python -m trainer.nnunet.worker {{{'|'.join(STEPS)}}} JOB_JSON", file=sys.stderr)
        return 2
    STEPS[argv[0]](json.loads(argv[1]))
    return 0


if __name__ == "__main__":  # the guard matters: nnU-Net's worker pools use 'spawn'
    sys.exit(main(sys.argv[1:]))
