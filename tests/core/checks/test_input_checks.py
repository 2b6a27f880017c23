"""Input checks: only knee CT in HU gets through; references must speak the model's labels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kneeseg_app.core.checks.input import (
    check_input,
    label_values,
    match_reference_labels,
    normalized_body_part,
    parse_label_mapping,
)
from kneeseg_app.core.errors import InputError, KneeSegError, NotKneeCTError, ReferenceLabelsError
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.volume import DicomFacts

MODEL = {1: "femur", 2: "tibia"}


@pytest.fixture(scope="module")
def phantom():
    return generate_phantom(3, shape_zyx=(40, 96, 96))


def _as_file(volume, array=None):
    """The same volume as if read from a NIfTI: no DICOM facts."""
    return volume.with_array(volume.array if array is None else array, dicom=None, source="scan.nii.gz")


def test_a_knee_ct_in_hu_passes_as_dicom_and_as_a_file(phantom) -> None:
    check_input(phantom.ct)
    check_input(_as_file(phantom.ct))


def test_a_label_map_given_as_the_ct_is_refused(phantom) -> None:
    with pytest.raises(
        NotKneeCTError, match=r"scan.nii.gz holds only 3 different values \(0, 1, 2\): it is a label map"
    ):
        check_input(_as_file(phantom.ct, phantom.labels.array))


def test_mr_like_values_without_air_are_refused(phantom) -> None:
    mr = (phantom.ct.array.astype(np.float32) + 1024.0) * 0.7
    with pytest.raises(NotKneeCTError, match="no voxel is air .* Is it MR"):
        check_input(_as_file(phantom.ct, mr))


def test_normalised_values_are_refused(phantom) -> None:
    z = (phantom.ct.array - phantom.ct.array.mean()) / phantom.ct.array.std()
    with pytest.raises(NotKneeCTError, match="Hounsfield"):
        check_input(_as_file(phantom.ct, z.astype(np.float32)))


def test_air_only_is_refused_for_lacking_soft_tissue(phantom) -> None:
    noise = np.random.default_rng(0).normal(0, 20, phantom.ct.shape)
    air = (np.where(phantom.ct.array > -500, 1500, -1000) + noise).astype(np.int16)
    with pytest.raises(NotKneeCTError, match="fat or muscle"):
        check_input(_as_file(phantom.ct, air))


def test_padding_outside_the_field_of_view_does_not_count(phantom) -> None:
    padded = phantom.ct.array.copy()
    padded[:, :10, :] = -3024
    check_input(_as_file(phantom.ct, padded))


def test_dicom_mr_is_refused(phantom) -> None:
    mr = phantom.ct.with_array(phantom.ct.array, dicom=dataclasses.replace(phantom.ct.dicom, modality="MR"))
    with pytest.raises(NotKneeCTError, match="is MR, not CT"):
        check_input(mr, "series 3")


@pytest.mark.parametrize("part", ["HEAD", "Chest", "ABDOMEN", "L-SPINE", "upper_arm"])
def test_a_ct_of_another_body_part_is_refused(phantom, part: str) -> None:
    facts = DicomFacts(modality="CT")
    if "body_part" not in {f.name for f in dataclasses.fields(DicomFacts)}:
        pytest.fail("DicomFacts records no body part")
    ct = phantom.ct.with_array(phantom.ct.array, dicom=dataclasses.replace(facts, body_part=part))
    with pytest.raises(NotKneeCTError, match=f"CT of the {part.lower()}"):
        check_input(ct, "series 1")


@pytest.mark.parametrize("part", ["KNEE", "LEG", "LOWER LIMB", "PELVIS", "WHOLEBODY", "PARTIALBODY", ""])
def test_body_parts_that_may_hold_a_knee_pass(phantom, part: str) -> None:
    if "body_part" not in {f.name for f in dataclasses.fields(DicomFacts)}:
        pytest.fail("DicomFacts records no body part")
    ct = phantom.ct.with_array(phantom.ct.array, dicom=DicomFacts(modality="CT", body_part=part))
    check_input(ct)


def test_body_part_spelling_is_normalised() -> None:
    assert normalized_body_part(" L-Spine ") == "LSPINE"
    assert normalized_body_part("upper_arm") == "UPPERARM"


def test_every_refusal_is_a_kneeseg_error() -> None:
    assert issubclass(NotKneeCTError, KneeSegError) and issubclass(ReferenceLabelsError, KneeSegError)


# ----- reference labels -------------------------------------------------------
def test_mapping_is_parsed_from_the_command_line_form() -> None:
    assert parse_label_mapping("3=1,4=2") == {3: 1, 4: 2}
    assert parse_label_mapping(" 3 = 1 , 4=2 ") == {3: 1, 4: 2}


@pytest.mark.parametrize(
    "text, words",
    [
        ("3-1", "not REFERENCE=MODEL"),
        ("", "not REFERENCE=MODEL"),
        ("3=1,3=2", "mapped twice"),
        ("300=1", "up to 255"),
        ("a=b", "not REFERENCE"),
    ],
)
def test_a_malformed_mapping_is_one_clear_sentence(text: str, words: str) -> None:
    with pytest.raises(InputError, match=words):
        parse_label_mapping(text)


def test_a_reference_in_the_models_labels_is_taken_as_is(phantom) -> None:
    assert match_reference_labels(phantom.labels, MODEL) is phantom.labels


def test_a_reference_with_other_labels_is_refused_unless_mapped(phantom) -> None:
    shifted = phantom.labels.with_array(
        np.where(phantom.labels.array > 0, phantom.labels.array + 2, 0).astype(np.uint8)
    )
    with pytest.raises(ReferenceLabelsError, match=r"label\(s\) 3, 4 .* --reference-labels"):
        match_reference_labels(shifted, MODEL)
    mapped = match_reference_labels(shifted, MODEL, {3: 1, 4: 2})
    np.testing.assert_array_equal(mapped.array, phantom.labels.array)


def test_a_forty_label_atlas_is_refused_and_mapping_keeps_only_the_named_labels(phantom) -> None:
    atlas_array = (np.arange(phantom.labels.array.size) % 41).reshape(phantom.labels.array.shape).astype(np.uint8)
    atlas = phantom.labels.with_array(atlas_array)
    with pytest.raises(ReferenceLabelsError, match=r"1-40 \(40 labels\)"):
        match_reference_labels(atlas, MODEL)
    mapped = match_reference_labels(atlas, MODEL, {17: 1, 23: 2})
    assert label_values(mapped.array) == [1, 2]
    np.testing.assert_array_equal(mapped.array == 1, atlas_array == 17)


def test_a_mapping_to_a_label_the_model_lacks_or_from_an_absent_label_is_refused(phantom) -> None:
    with pytest.raises(ReferenceLabelsError, match="label 5, which the model does not have"):
        match_reference_labels(phantom.labels, MODEL, {1: 5})
    with pytest.raises(ReferenceLabelsError, match="label 9, which is not in the reference"):
        match_reference_labels(phantom.labels, MODEL, {9: 1})


def test_a_field_of_view_inside_the_body_passes_on_its_padding(phantom) -> None:
    """A 150 mm reconstruction inside an obese thigh holds no air, only -2048 padding outside its circle."""
    array = phantom.ct.array.astype(np.int16).copy()
    rows, columns = array.shape[1:]
    y, x = np.ogrid[:rows, :columns]
    outside = (y - rows / 2) ** 2 + (x - columns / 2) ** 2 > (min(rows, columns) / 2) ** 2
    array[array < -500] = 40  # the body fills the circle: no air left inside it
    array[:, outside] = -2048
    check_input(_as_file(phantom.ct, array))


def test_without_padding_a_body_filling_the_image_is_still_refused(phantom) -> None:
    array = phantom.ct.array.astype(np.int16).copy()
    array[array < -500] = 40
    with pytest.raises(NotKneeCTError, match="no voxel is air"):
        check_input(_as_file(phantom.ct, array))
