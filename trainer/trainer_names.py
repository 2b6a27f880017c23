"""Names of KneeSeg's nnU-Net trainer classes: the record of network and schedule.

Kept apart from :mod:`trainer.nnunet.trainers` (which imports torch and nnU-Net) so
the command line can name a trainer without loading either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ARCHITECTURES = {"nnunet": "", "resnet50v2": "ResNet50V2", "resnet50v2-small": "ResNet50V2Small"}
_NAME = re.compile(r"^nnUNetTrainerKneeSeg(?P<arch>ResNet50V2Small|ResNet50V2)?_(?P<epochs>\d+)ep_(?P<iters>\d+)it$")


@dataclass(frozen=True)
class TrainerSpec:
    """What a KneeSeg trainer class trains: the network and the schedule."""

    architecture: str = "nnunet"
    epochs: int = 1000
    iterations: int = 250

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown architecture {self.architecture!r}; choose one of {sorted(ARCHITECTURES)}")
        if self.epochs < 1 or self.iterations < 1:
            raise ValueError("epochs and iterations per epoch must be at least 1")

    @property
    def class_name(self) -> str:
        return f"nnUNetTrainerKneeSeg{ARCHITECTURES[self.architecture]}_{self.epochs}ep_{self.iterations}it"

    @property
    def validation_iterations(self) -> int:
        """Pseudo-validation batches per epoch: nnU-Net's 50, fewer for short runs."""
        return max(1, min(50, self.iterations // 5))


def trainer_spec_from_name(name: str) -> TrainerSpec | None:
    """The spec a KneeSeg trainer class name encodes, or None for any other name."""
    match = _NAME.match(name)
    if match is None:
        return None
    arch = {v: k for k, v in ARCHITECTURES.items()}[match["arch"] or ""]
    return TrainerSpec(arch, int(match["epochs"]), int(match["iters"]))
