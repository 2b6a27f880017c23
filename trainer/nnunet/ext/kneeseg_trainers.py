"""Where nnU-Net's ``recursive_find_trainer_class_by_name`` finds KneeSeg trainers.

nnU-Net imports this file as a top-level module from the ``nnUNet_extTrainer``
folder and asks it for a class by name (``hasattr``); the module-level
``__getattr__`` answers every ``nnUNetTrainerKneeSeg...`` name by building the
class in :mod:`trainer.nnunet.trainers`, so training, resuming, nnU-Net's
validation and ``nnUNetv2_predict`` all resolve the same class.
"""

from __future__ import annotations

from trainer.nnunet.trainers import trainer_class


def __getattr__(name: str):
    if not name.startswith("nnUNetTrainerKneeSeg"):
        raise AttributeError(name)
    try:
        return trainer_class(name)
    except ValueError as exc:
        raise AttributeError(name) from exc
