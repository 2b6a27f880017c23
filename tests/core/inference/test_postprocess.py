"""Largest-component post-processing matches nnU-Net's and leaves other labels alone."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.inference.postprocess import (
    BOTH_KNEES_MIN_FRACTION,
    apply_postprocessing,
    fill_enclosed,
    keep_largest_component,
    label_bbox,
    volumes_ml,
)


def _two_bones_with_islands() -> np.ndarray:
    labels = np.zeros((20, 30, 30), dtype=np.uint8)
    labels[2:9, 5:20, 5:20] = 1  # femur
    labels[15, 25, 25] = 1  # a stray femur voxel
    labels[11:18, 5:20, 5:20] = 2  # tibia
    labels[3, 25:27, 2:4] = 2  # a stray tibia island
    labels[9, 20, 20] = 1  # touches the femur only diagonally: kept with 26-connectivity
    return labels


def test_keeps_only_the_largest_component_of_each_bone() -> None:
    labels = _two_bones_with_islands()
    removed = apply_postprocessing(labels, [1, 2])
    assert removed == {1: 1, 2: 4}
    assert labels[15, 25, 25] == 0 and labels[3, 25, 2] == 0
    assert labels[9, 20, 20] == 1
    assert (labels[2:9, 5:20, 5:20] == 1).all() and (labels[11:18, 5:20, 5:20] == 2).all()


def test_only_listed_labels_are_touched() -> None:
    labels = _two_bones_with_islands()
    apply_postprocessing(labels, [1])
    assert labels[3, 25, 2] == 2


def test_equals_nnunet_remove_all_but_largest_component() -> None:
    morphology = pytest.importorskip("acvl_utils.morphology.morphology_helper")
    rng = np.random.default_rng(3)
    labels = (rng.random((25, 30, 35)) > 0.93).astype(np.uint8)  # many components, some tied
    expected = morphology.remove_all_but_largest_component(labels == 1)
    keep_largest_component(labels, 1)
    assert np.array_equal(labels == 1, expected)


def test_both_knees_keep_their_femur_and_tibia_while_islands_go() -> None:
    labels = np.zeros((20, 30, 60), dtype=np.uint8)
    labels[2:9, 5:20, 5:20] = 1  # left femur
    labels[2:9, 5:18, 35:50] = 1  # right femur, a little smaller
    labels[11:18, 5:20, 5:20] = 2
    labels[11:18, 5:20, 35:50] = 2
    labels[15, 25, 28] = 1  # stray voxel between the legs
    removed = apply_postprocessing(labels, [1, 2], min_fraction=BOTH_KNEES_MIN_FRACTION)
    assert removed == {1: 1, 2: 0}
    assert (labels[2:9, 5:18, 35:50] == 1).all() and (labels[11:18, 5:20, 35:50] == 2).all()


def test_absent_label_is_a_no_op() -> None:
    labels = np.zeros((4, 4, 4), dtype=np.uint8)
    assert keep_largest_component(labels, 2) == 0
    assert label_bbox(labels, 2) is None


def test_volumes_in_millilitres() -> None:
    labels = np.zeros((10, 10, 10), dtype=np.uint8)
    labels[:5] = 1
    labels[5:, :2] = 2
    assert volumes_ml(labels, (2.0, 1.0, 0.5), {1: "femur", 2: "tibia"}) == {"femur": 0.5, "tibia": 0.1}
    assert volumes_ml(np.zeros((2, 2, 2), np.uint8), (1, 1, 1), {1: "femur", 2: "tibia"}) == {
        "femur": 0.0,
        "tibia": 0.0,
    }


def test_a_cavity_inside_a_bone_is_marrow_the_network_missed() -> None:
    labels = np.zeros((20, 20, 20), dtype=np.uint8)
    labels[2:18, 2:18, 2:18] = 1
    labels[8:12, 8:12, 8:12] = 0  # enclosed
    labels[8:12, 8:12, 14:20] = 0  # a tunnel out to the side: not enclosed
    assert fill_enclosed(labels, 1) == 4 * 4 * 4
    assert (labels[8:12, 8:12, 8:12] == 1).all()
    assert (labels[8:12, 8:12, 14:18] == 0).all()


def test_a_pocket_of_the_other_bone_is_not_taken() -> None:
    labels = np.zeros((20, 20, 20), dtype=np.uint8)
    labels[2:18, 2:18, 2:18] = 1
    labels[8:12, 8:12, 8:12] = 2
    assert fill_enclosed(labels, 1) == 0
    assert (labels[8:12, 8:12, 8:12] == 2).all()
    assert fill_enclosed(labels, 3) == 0
