"""What the window says about a result's quality checks (Qt-free)."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.ui.state.quality import ResultQuality, evaluate


class _Result:
    def __init__(self, labels) -> None:
        self.labels = labels


@pytest.fixture(scope="module")
def phantom():
    return generate_phantom(0, shape_zyx=(48, 96, 96))


def test_nothing_checked_says_so_and_asks_nothing() -> None:
    quality = ResultQuality()
    assert quality.status == "none" and quality.rows() == [] and quality.banner_text() == ""
    assert quality.export_question("surfaces") is None
    assert "segment the CT" in quality.summary()


def test_a_good_result_passes_quietly(phantom) -> None:
    quality = ResultQuality()
    quality.set_report(evaluate(phantom.ct, _Result(phantom.labels), {0: "background", 1: "femur", 2: "tibia"}))
    assert quality.status == "pass"
    assert quality.banner_text() == "" and quality.export_question("bone surfaces (STL)") is None
    assert all(row.text.startswith("\u2714") for row in quality.rows())
    assert quality.flagged_slices() == ()


def test_a_failed_result_raises_the_banner_marks_slices_and_asks_before_export(phantom) -> None:
    labels = phantom.labels.array.copy()
    femur_slices = np.flatnonzero((labels == 1).any(axis=(1, 2)))
    gap = int(femur_slices[len(femur_slices) // 2])
    labels[gap][labels[gap] == 1] = 0
    quality = ResultQuality()
    quality.set_report(
        evaluate(phantom.ct, _Result(phantom.labels.with_array(labels)), {1: "femur", 2: "tibia"}), edited=True
    )
    assert quality.status == "fail"
    assert quality.banner_text().startswith("\u2716 Do not trust this result: Part of a bone is missing")
    assert gap in quality.flagged_slices()
    assert quality.flags_of_slice(gap) == ["Bone continuity"]
    assert quality.flags_of_slice(0) == []
    question = quality.export_question("bone surfaces (STL)")
    assert (
        question is not None and "bone continuity" in question and "Export the bone surfaces (STL) anyway?" in question
    )
    row = next(r for r in quality.rows() if r.title == "Bone continuity")
    assert f"(slices {gap + 1})" in row.text  # counted from 1, as the window's slice counter
    assert "edited" in quality.summary()
    quality.clear()
    assert quality.status == "none" and not quality.edited
