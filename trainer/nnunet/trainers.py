"""nnU-Net trainer classes of KneeSeg, named after what they do.

A class name is the complete record of its training schedule and network, e.g.
``nnUNetTrainerKneeSeg_50ep_250it`` (nnU-Net's planned network, 50 epochs of 250
iterations) or ``nnUNetTrainerKneeSegResNet50V2_100ep_250it`` (the custom U-Net with a
pre-activation ResNet-50 encoder). nnU-Net stores that name in every checkpoint and
results folder, so a run can be resumed, validated or predicted later without any
hidden setting (no environment variable decides the schedule).

nnU-Net only looks for trainer classes inside its own package or in the folders listed
in ``nnUNet_extTrainer``; :mod:`trainer.nnunet.ext.kneeseg_trainers` answers any of
these names there (see :func:`trainer.nnunet.env.nnunet_environment`).

The paper's "no manual changes" nnU-Net uses nnU-Net's own ``nnUNetTrainer``
(1000 epochs x 250 iterations); these classes exist for shorter runs (tests, CPU
demo models) and for the custom network.
"""

from __future__ import annotations

import functools

import torch
from nnunetv2.training.lr_scheduler.polylr import PolyLRScheduler
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
from nnunetv2.utilities.plans_handling.plans_handler import ConfigurationManager, PlansManager
from torch import nn

from trainer.trainer_names import ARCHITECTURES, TrainerSpec, trainer_spec_from_name

__all__ = [
    "ARCHITECTURES",
    "TrainerSpec",
    "nnUNetTrainerKneeSeg",
    "nnUNetTrainerKneeSegResNet50V2",
    "trainer_class",
    "trainer_spec_from_name",
]


class nnUNetTrainerKneeSeg(nnUNetTrainer):  # noqa: N801 (nnU-Net's naming convention)
    """nnU-Net's trainer with a schedule taken from the class (see :func:`trainer_class`).

    Everything else is nnU-Net's (loss, optimiser, augmentation, sampling, checkpoints),
    except that the final validation runs without mirroring (see below).
    """

    kneeseg_spec = TrainerSpec()

    def __init__(
        self,
        plans: dict,
        configuration: str,
        fold: int,
        dataset_json: dict,
        device: torch.device = torch.device("cuda"),
    ):
        super().__init__(plans, configuration, fold, dataset_json, device)
        spec = self.kneeseg_spec
        self.num_epochs = spec.epochs
        self.num_iterations_per_epoch = spec.iterations
        self.num_val_iterations_per_epoch = spec.validation_iterations
        # nnU-Net writes checkpoint_latest every 50 epochs; short runs resume at finer steps
        self.save_every = max(1, min(50, spec.epochs // 5))

    def perform_actual_validation(self, save_probabilities: bool = False) -> None:
        """nnU-Net's final validation, without test-time mirroring.

        Mirroring makes it 4x slower in 2D (hours on a CPU for a short run) and only
        changes the fold's validation score a little; the checkpoints keep the allowed
        mirroring axes, so exported models offer the same TTA as nnU-Net's.
        """
        axes = self.inference_allowed_mirroring_axes
        self.inference_allowed_mirroring_axes = None
        try:
            super().perform_actual_validation(save_probabilities)
        finally:
            self.inference_allowed_mirroring_axes = axes


class nnUNetTrainerKneeSegResNet50V2(nnUNetTrainerKneeSeg):  # noqa: N801
    """The custom 2D U-Net (pre-activation ResNet-50 encoder) trained by nnU-Net's machinery.

    Same preprocessed data, patch sampling, augmentation, loss, validation and
    checkpoints as nnU-Net, so the comparison isolates the network; no deep
    supervision (the decoder has one output) and AdamW, which suits BatchNorm
    encoders better than nnU-Net's SGD with momentum 0.99.
    """

    kneeseg_spec = TrainerSpec("resnet50v2")

    def __init__(
        self,
        plans: dict,
        configuration: str,
        fold: int,
        dataset_json: dict,
        device: torch.device = torch.device("cuda"),
    ):
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.enable_deep_supervision = False
        self.initial_lr = 1e-3
        self.weight_decay = 1e-4

    @classmethod
    def build_network_architecture(
        cls,
        plans_manager: PlansManager,
        configuration_manager: ConfigurationManager,
        num_input_channels: int,
        num_output_channels: int,
        enable_deep_supervision: bool = True,
    ) -> nn.Module:
        from trainer.unet import ENCODER_STRIDE, ResNetV2UNet

        patch = configuration_manager.patch_size
        if len(patch) != 2 or any(p % ENCODER_STRIDE for p in patch):
            raise RuntimeError(
                f"The ResNet50V2 U-Net needs a 2D patch size divisible by {ENCODER_STRIDE}; "
                f"the configuration has {list(patch)}."
            )
        return ResNetV2UNet(
            num_input_channels, num_output_channels, small=cls.kneeseg_spec.architecture == "resnet50v2-small"
        )

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.network.parameters(), lr=self.initial_lr, weight_decay=self.weight_decay)
        return optimizer, PolyLRScheduler(optimizer, self.initial_lr, self.num_epochs)

    def set_deep_supervision_enabled(self, enabled: bool) -> None:
        """The custom decoder has a single output; nothing to switch."""


@functools.cache
def trainer_class(name: str) -> type[nnUNetTrainer]:
    """The KneeSeg trainer class called ``name`` (created on first use, then cached).

    Raises ValueError for a name that is not a KneeSeg trainer name.
    """
    spec = trainer_spec_from_name(name)
    if spec is None:
        raise ValueError(f"{name!r} is not a KneeSeg trainer name (e.g. {TrainerSpec(epochs=50).class_name})")
    base = nnUNetTrainerKneeSeg if spec.architecture == "nnunet" else nnUNetTrainerKneeSegResNet50V2
    return type(name, (base,), {"kneeseg_spec": spec, "__module__": __name__, "__doc__": base.__doc__})


def __getattr__(name: str) -> type[nnUNetTrainer]:
    """Generated classes are attributes of this module too (so pickle finds them)."""
    if name.startswith("nnUNetTrainerKneeSeg"):
        try:
            return trainer_class(name)
        except ValueError:
            pass
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
