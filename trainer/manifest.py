"""The model package manifest (docs/model-package.md) filled from an nnU-Net run.

Every preprocessing number comes from the files nnU-Net itself used, so the app
reproduces nnU-Net's inference: ``plans.json`` (transpose, patch size, target
spacing, resampling orders, normalisation scheme), ``dataset.json`` (labels) and the
plans' copy of the fingerprint's foreground intensity properties (the 0.5 and 99.5
percentiles, mean and std that nnU-Net's CTNormalization clips and scales with).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kneeseg_app import __version__ as kneeseg_version
from kneeseg_app.core.errors import ModelError
from kneeseg_app.core.model.schema import (
    InferenceDefaults,
    InputSpec,
    Manifest,
    NetworkFile,
    Normalization,
    Postprocessing,
    Resampling,
    SourceInfo,
    TrainingInfo,
    ValidationInfo,
)
from trainer.nnunet.run import TrainedRun

ANISO_THRESHOLD = 3.0
"""nnU-Net's ``ANISO_THRESHOLD`` (nnunetv2.configuration): when z is resampled separately."""


@dataclass
class PackageInfo:
    """What a person says about the package (the rest comes from the run)."""

    name: str
    version: str = "1.0.0"
    description: str = ""
    data: str = ""
    synthetic: bool = False
    seeds: str = ""
    command: str = ""
    clinical_use: bool = False
    license: str = "research use only"
    largest_component: bool = True
    default_tta: bool = False
    default: bool = False
    recipe: dict = field(default_factory=dict)
    """How the package was made (the manifest's free-form ``recipe``), e.g. the demo recipe's settings."""


def family_of(architecture: str, dims: int) -> str:
    return f"{'nnunet' if architecture == 'nnunet' else 'custom-unet'}-{dims}d"


def build_manifest(
    run: TrainedRun,
    configuration: Mapping[str, Any],
    info: PackageInfo,
    networks: Sequence[NetworkFile],
    architecture: str,
    mirror_axes: Sequence[int],
    validation: ValidationInfo | None,
) -> Manifest:
    """The manifest for ``run`` exported as ``networks`` (written with ``write_manifest``, which validates it)."""
    if info.clinical_use and info.synthetic:
        raise ModelError("A model trained on synthetic data cannot be marked for clinical use.")
    patch = tuple(int(p) for p in configuration["patch_size"])
    labels = {int(v): k for k, v in sorted(run.dataset_json["labels"].items(), key=lambda kv: int(kv[1]))}
    family = family_of(architecture, len(patch))
    return Manifest(
        name=info.name,
        version=info.version,
        family=family,
        description=info.description or f"{family} from {run.folder.name}",
        default=info.default,
        labels=labels,
        networks=tuple(networks),
        input=input_spec(run, configuration, architecture),
        normalization=normalization(run, configuration),
        resampling=resampling(configuration),
        inference=InferenceDefaults(mirror_axes=tuple(int(a) for a in mirror_axes), default_tta=info.default_tta),
        postprocessing=Postprocessing(
            largest_component=tuple(k for k in labels if k != 0) if info.largest_component else ()
        ),
        training=TrainingInfo(
            data=info.data,
            synthetic=info.synthetic,
            cases=int(run.dataset_json.get("numTraining", 0)),
            seeds=info.seeds,
            command=info.command,
        ),
        validation=validation or ValidationInfo(),
        clinical_use=bool(info.clinical_use),
        license=info.license,
        created=_dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        kneeseg_version=kneeseg_version,
        source=SourceInfo(
            results_folder=run.folder.name,
            dataset=run.dataset_name,
            trainer=run.trainer,
            plans=run.plans_name,
            configuration=run.configuration,
        ),
        recipe=dict(info.recipe),
    )


def input_spec(run: TrainedRun, configuration: Mapping[str, Any], architecture: str) -> InputSpec:
    """What the networks take: nnU-Net's axis order, patch, target spacing and divisibility."""
    patch = tuple(int(p) for p in configuration["patch_size"])
    channels = run.dataset_json["channel_names"]
    return InputSpec(
        orientation="LPS",
        transpose_forward=tuple(int(a) for a in run.plans["transpose_forward"]),  # type: ignore[arg-type]
        transpose_backward=tuple(int(a) for a in run.plans["transpose_backward"]),  # type: ignore[arg-type]
        dims=len(patch),
        patch_size=patch,
        target_spacing=tuple(float(s) for s in configuration["spacing"]),
        divisibility=tuple(divisibility(configuration, architecture)),
        channels=tuple(channels[k] for k in sorted(channels)),
    )


def normalization(run: TrainedRun, configuration: Mapping[str, Any]) -> Normalization:
    """CTNormalization's clip range and scaling, from the plans' intensity properties."""
    schemes = list(configuration["normalization_schemes"])
    if schemes != ["CTNormalization"]:
        raise ModelError(
            f"The run uses the normalisation {schemes}; the app supports CTNormalization only "
            "(name the image channel 'CT' in dataset.json)."
        )
    props = run.plans["foreground_intensity_properties_per_channel"]["0"]
    return Normalization(
        scheme="CT",
        lower=float(props["percentile_00_5"]),
        upper=float(props["percentile_99_5"]),
        mean=float(props["mean"]),
        std=float(props["std"]),
    )


def resampling(configuration: Mapping[str, Any]) -> Resampling:
    data = configuration["resampling_fn_data_kwargs"]
    probabilities = configuration["resampling_fn_probabilities_kwargs"]
    for name in ("resampling_fn_data", "resampling_fn_probabilities"):
        if configuration[name] != "resample_data_or_seg_to_shape":
            raise ModelError(f"The run resamples with {configuration[name]}, which the app does not reproduce.")
    return Resampling(
        data_order=int(data.get("order", 3)),
        data_order_z=int(data.get("order_z", 0)),
        probabilities_order=int(probabilities.get("order", 1)),
        probabilities_order_z=int(probabilities.get("order_z", 0)),
        force_separate_z=data.get("force_separate_z"),
        separate_z_anisotropy_threshold=ANISO_THRESHOLD,
    )


def divisibility(configuration: Mapping[str, Any], architecture: str) -> list[int]:
    """Input sizes the network accepts: products of its strides (32 for the ResNet encoder)."""
    dims = len(configuration["patch_size"])
    if architecture != "nnunet":
        from trainer.unet import ENCODER_STRIDE

        return [ENCODER_STRIDE] * dims
    strides = np.array(configuration["architecture"]["arch_kwargs"]["strides"], dtype=int).reshape(-1, dims)
    return [int(v) for v in np.prod(strides, axis=0)]
