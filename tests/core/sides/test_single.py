"""A single knee's side: the header when it says so, the fibula otherwise, a warning when they disagree."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kneeseg_app.core.identity import PatientIdentity
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.sides import side_from_header, side_in_text, single_knee_side
from kneeseg_app.core.volume import DicomFacts


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
