"""Anatomical landmark rules of the knee on point clouds (numpy and scipy only).

One set of definitions serves two callers: :mod:`kneeseg_app.core.planning` applies them to
a label map's boundary, :mod:`kneeseg_app.core.phantom.truth` to a phantom's exact surfaces
(its ground truth). They live below both, so neither imports the other.
"""

from kneeseg_app.core.anatomy.derived import knee_measures
from kneeseg_app.core.anatomy.femur import FemurAnatomy, femur_anatomy
from kneeseg_app.core.anatomy.frame import BoneCloud, BoneFrame, mask_points
from kneeseg_app.core.anatomy.tibia import TibiaAnatomy, plateau_plane, tibia_anatomy

__all__ = [
    "BoneCloud",
    "BoneFrame",
    "FemurAnatomy",
    "TibiaAnatomy",
    "femur_anatomy",
    "knee_measures",
    "mask_points",
    "plateau_plane",
    "tibia_anatomy",
]
