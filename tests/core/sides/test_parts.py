"""Every bone per side: the split that volumes, metrics, meshes and reports use."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.labels import FEMUR, LEFT, RIGHT, TIBIA
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.phantom.variation import WideChoices
from kneeseg_app.core.sides import LEFT_CODE_OFFSET, split_sides
from kneeseg_app.core.volume import Volume

SHAPE = (48, 128, 128)


def _centre_x(volume: Volume, mask: np.ndarray) -> float:
    return float(volume.index_to_lps(np.argwhere(mask).mean(axis=0))[0])


def test_a_two_knee_phantom_gives_four_bones_on_the_sides_it_was_drawn() -> None:
    phantom = generate_phantom(5, shape_zyx=SHAPE, both_legs=True, side="left")
    split = split_sides(phantom.labels, ct=phantom.ct)
    assert split.knees == 2
    assert [p.name for p in split.parts] == ["right femur", "right tibia", "left femur", "left tibia"]
    drawn = {leg.side: leg.knee_lps[0] for leg in phantom.params.legs}
    parts = split.part_labels(phantom.labels)
    for part in split.parts:
        x = _centre_x(parts, parts.array == part.code)
        assert abs(x - drawn[part.side]) < 25.0, (part.name, x, drawn)
    assert drawn[RIGHT] < split.midline_x < drawn[LEFT]


def test_the_sides_add_up_to_each_bone_and_keep_the_label_map() -> None:
    phantom = generate_phantom(6, shape_zyx=SHAPE, both_legs=True)
    labels_before = phantom.labels.array.copy()
    split = split_sides(phantom.labels)
    voxel_ml = float(np.prod(phantom.labels.spacing_zyx)) / 1000
    for label in (FEMUR, TIBIA):
        total = sum(p.volume_ml for p in split.parts if p.label == label)
        assert total == pytest.approx(np.count_nonzero(labels_before == label) * voxel_ml)
    np.testing.assert_array_equal(phantom.labels.array, labels_before)
    parts = split.part_labels(phantom.labels).array
    np.testing.assert_array_equal(parts % LEFT_CODE_OFFSET, labels_before)


@pytest.mark.parametrize("side", ["left", "right"])
@pytest.mark.parametrize("position", ["HFS", "FFS"])
def test_a_one_knee_phantom_names_its_side_whatever_the_patient_position(side: str, position: str) -> None:
    """Wide phantoms store FFS scans flipped as scanners do: the side must come from LPS, not the array."""
    phantom = generate_phantom(
        3,
        shape_zyx=SHAPE,
        both_legs=False,
        side=side,
        patient_position=position,
        variation="wide",
        choices=WideChoices(legs="one", implant="none"),
    )
    split = split_sides(phantom.labels, ct=phantom.ct)
    assert split.knees == 1
    assert split.side == side
    assert split.knee_line() == f"Knee: {side}"
    assert {p.name for p in split.parts} == {f"{side} femur", f"{side} tibia"}
    assert "fibula" in split.decision.how


def test_without_the_ct_a_lone_knee_has_no_side_and_says_why() -> None:
    phantom = generate_phantom(3, shape_zyx=SHAPE, both_legs=False, side="right")
    split = split_sides(phantom.labels)
    assert split.side is None
    assert [p.name for p in split.parts] == ["femur", "tibia"]
    assert split.knee_line().startswith("Knee: side unknown (")


def test_every_voxel_goes_to_the_side_of_the_midline_it_lies_on_also_on_an_oblique_grid() -> None:
    """Two femurs, two tibias and a stray femur fragment; the grid's axes are rotated in the axial plane."""
    array = np.zeros((20, 40, 120), np.uint8)
    array[10:18, 10:30, 5:25] = FEMUR
    array[10:18, 10:30, 95:115] = FEMUR
    array[1:8, 10:30, 5:25] = TIBIA
    array[1:8, 10:30, 95:115] = TIBIA
    array[12:14, 5:7, 64:67] = FEMUR  # a fragment just past the middle
    angle = np.deg2rad(20)
    direction = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    labels = Volume(array, (2.0, 1.0, 1.0), (-60.0, 0.0, 0.0), direction)
    split = split_sides(labels)
    assert split.knees == 2
    parts = split.part_labels(labels).array
    xs = labels.index_to_lps(np.argwhere(array > 0).astype(float))[:, 0]
    codes, values = parts[array > 0], array[array > 0]
    np.testing.assert_array_equal(codes[xs > split.midline_x], values[xs > split.midline_x] + LEFT_CODE_OFFSET)
    np.testing.assert_array_equal(codes[xs < split.midline_x], values[xs < split.midline_x])


def test_an_empty_label_map_has_no_knee() -> None:
    split = split_sides(Volume(np.zeros((4, 4, 4), np.uint8), (1.0, 1.0, 1.0)))
    assert split.knees == 0 and split.parts == ()
    assert split.as_dict()["bones"] == []


def test_the_report_field_names_each_bone_with_its_side() -> None:
    phantom = generate_phantom(5, shape_zyx=SHAPE, both_legs=True)
    data = split_sides(phantom.labels).as_dict()
    assert data["knees"] == 2 and data["side"] is None and data["confidence"] == "high"
    assert [(b["side"], b["bone"], b["label"]) for b in data["bones"]] == [
        ("right", "femur", 1),
        ("right", "tibia", 2),
        ("left", "femur", 1),
        ("left", "tibia", 2),
    ]
