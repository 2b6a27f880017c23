"""The one label table and side vocabulary: every part of the app names bones the same way."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core import labels
from kneeseg_app.core.dicom import seg
from kneeseg_app.core.labels import BONE_NAMES, FEMUR, LABEL_NAMES, LEFT, RIGHT, TIBIA
from kneeseg_app.core.metrics import scores
from kneeseg_app.core.model import schema
from kneeseg_app.core.volume import Volume


def test_femur_is_one_and_tibia_is_two() -> None:
    assert dict(LABEL_NAMES) == {1: "femur", 2: "tibia"}
    assert (FEMUR, TIBIA, labels.BACKGROUND) == (1, 2, 0)
    assert BONE_NAMES == ("femur", "tibia")


def test_the_table_cannot_be_changed_by_a_caller() -> None:
    with pytest.raises(TypeError):
        LABEL_NAMES[3] = "patella"  # type: ignore[index]
    copy = labels.label_names()
    copy[3] = "patella"
    assert 3 not in LABEL_NAMES


def test_label_id_reads_names_case_insensitively_and_refuses_unknown_bones() -> None:
    assert labels.label_id("Femur") == 1
    assert labels.label_id(" tibia ") == 2
    with pytest.raises(KeyError, match="patella"):
        labels.label_id("patella")


def test_names_from_a_model_drop_background_and_accept_string_keys() -> None:
    assert labels.names_or_default({"0": "background", "1": "Femur", "2": "Tibia"}) == {1: "Femur", 2: "Tibia"}
    assert labels.names_or_default(None) == {1: "femur", 2: "tibia"}
    assert labels.names_or_default({}) == {1: "femur", 2: "tibia"}


def test_the_core_uses_the_one_table() -> None:
    """Metrics, model packages and the DICOM SEG writer share the table instead of their own copies."""
    assert scores.LABELS is LABEL_NAMES
    assert schema.REQUIRED_BONES == BONE_NAMES
    assert not hasattr(seg, "DEFAULT_LABELS")


def test_lps_plus_x_is_the_patients_left() -> None:
    assert labels.side_of_x(10.0, 0.0) == LEFT
    assert labels.side_of_x(-10.0, 0.0) == RIGHT
    assert labels.SIDES == (RIGHT, LEFT)


def test_the_lateral_direction_of_a_left_knee_is_plus_x() -> None:
    np.testing.assert_array_equal(labels.lateral_direction("left"), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(labels.lateral_direction("RIGHT"), [-1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="side must be"):
        labels.lateral_direction("middle")


def test_volume_patient_left_matches_the_table() -> None:
    """A voxel further along +x of an identity-direction volume lies to the patient's left."""
    volume = Volume(np.zeros((2, 2, 4), dtype=np.int16), (1.0, 1.0, 1.0))
    x0 = volume.index_to_lps(np.array([0.0, 0.0, 0.0]))[0]
    x3 = volume.index_to_lps(np.array([0.0, 0.0, 3.0]))[0]
    assert labels.side_of_x(x3, (x0 + x3) / 2) == LEFT
