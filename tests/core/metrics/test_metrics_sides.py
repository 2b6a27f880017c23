"""Two knees against two knees are scored per side; anything else per bone."""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.metrics.sides import metrics_per_side
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.sides import split_sides

SHAPE = (48, 128, 128)


def test_two_knees_are_scored_knee_by_knee_and_a_damaged_knee_shows() -> None:
    phantom = generate_phantom(5, shape_zyx=SHAPE, both_legs=True)
    reference = phantom.labels
    damaged = reference.array.copy()
    midline = split_sides(reference).midline_x
    left_half = reference.index_to_lps(np.argwhere(damaged == 1).astype(float))[:, 0] > midline
    femur_voxels = np.argwhere(damaged == 1)[left_half]
    damaged[tuple(femur_voxels[::2].T)] = 0  # half the left femur's voxels lost
    metrics = metrics_per_side(reference.with_array(damaged), reference)
    assert list(metrics) == ["right femur", "right tibia", "left femur", "left tibia"]
    assert metrics["right femur"].dice == 1.0 and metrics["left tibia"].dice == 1.0
    assert metrics["left femur"].dice < 0.8


def test_a_one_knee_reference_is_scored_per_bone() -> None:
    phantom = generate_phantom(3, shape_zyx=SHAPE, both_legs=False)
    metrics = metrics_per_side(phantom.labels, phantom.labels)
    assert list(metrics) == ["femur", "tibia"]
