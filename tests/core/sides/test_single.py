"""A single knee's side: the header when it says so, the fibula otherwise, a warning when they disagree."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kneeseg_app.core.identity import PatientIdentity
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.sides import side_from_header, side_in_text, single_knee_side
from kneeseg_app.core.volume import DicomFacts, Volume


@pytest.mark.parametrize(
    ("text", "side"),
    [
        ("LEFT KNEE", "left"),
        ("Knie rechts", "right"),
        ("KNEE_L", "left"),
        ("R KNEE 1.0 BONE", "right"),
        ("Knee 1.0 Bone", None),
        ("LEFT and RIGHT knee", None),
        ("L1 spine", None),
        ("", None),
    ],
)
def test_side_words_in_a_description(text: str, side: str | None) -> None:
    assert side_in_text(text) == side


def test_the_laterality_element_comes_before_the_descriptions() -> None:
    facts = DicomFacts(series_description="RIGHT KNEE", identity=PatientIdentity(laterality="L"))
    assert side_from_header(facts) == ("left", "the DICOM Laterality element says L")
    assert side_from_header(DicomFacts(body_part="KNEE")) == (None, "")
    assert side_from_header(None) == (None, "")


def test_header_and_fibula_agreeing_is_certain_disagreeing_is_flagged() -> None:
    phantom = generate_phantom(3, shape_zyx=(48, 128, 128), both_legs=False, side="left")
    agree = replace(phantom.ct.dicom, identity=PatientIdentity(laterality="L"))
    decision = single_knee_side(phantom.labels, phantom.ct, agree)
    assert (decision.side, decision.confidence) == ("left", "high")
    disagree = replace(phantom.ct.dicom, series_description="RIGHT KNEE")
    decision = single_knee_side(phantom.labels, phantom.ct, disagree)
    assert (decision.side, decision.confidence) == ("right", "low")
    assert "fibula" in decision.how and "check" in decision.how


def test_without_header_side_or_fibula_a_dicom_knee_off_the_centre_line_gets_that_side_at_low_confidence() -> None:
    array = np.zeros((10, 20, 200), np.uint8)
    array[2:8, 5:15, 170:190] = 1  # a femur 70-90 mm to the patient's left of x = 0
    labels = Volume(array, (1.0, 1.0, 1.0), (-100.0, 0.0, 0.0))
    decision = single_knee_side(labels, facts=DicomFacts(modality="CT"))
    assert (decision.side, decision.confidence) == ("left", "low")
    assert "centre line" in decision.how
    assert single_knee_side(labels).side is None  # not DICOM: the origin says nothing
    centred = labels.with_array(np.roll(array, -80, axis=2))  # 10 mm off the centre line: too close to tell
    assert single_knee_side(centred, facts=DicomFacts(modality="CT")).side is None
