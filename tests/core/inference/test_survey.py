"""Long scans are surveyed every ~10 mm first: one without a knee ends there, one with a knee is
segmented whole exactly as without the survey."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
from kneeseg_app.core.inference.survey import (
    MIN_STEP,
    SURVEY_MIN_SLICES,
    spread_slices,
    survey_step,
    surveyed_slices,
)
from kneeseg_app.core.model.discovery import find_model
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.phantom.negatives import generate_negative
from kneeseg_app.core.phantom.variation import WideChoices
from kneeseg_app.core.volume import Volume


def _volume(slices: int, slice_mm: float, direction=None) -> Volume:
    direction = np.eye(3) if direction is None else direction
    return Volume(np.zeros((slices, 4, 4), dtype=np.int16), (slice_mm, 0.8, 0.8), (1.0, 2.0, 3.0), direction)


def test_long_thin_slice_axial_scans_are_surveyed_every_10_mm_for_firm_reasons_only() -> None:
    assert survey_step(_volume(300, 0.625)) == 16
    assert survey_step(_volume(SURVEY_MIN_SLICES, 2.5)) == MIN_STEP


@pytest.mark.parametrize(
    "volume",
    [
        _volume(SURVEY_MIN_SLICES - 1, 0.5),  # short: little to save
        _volume(400, 3.0),  # thick slices: one in three would save too little
        _volume(300, 0.625, np.array([[1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]])),  # slices are not axial
    ],
)
def test_short_thick_or_non_axial_scans_are_not_surveyed(volume: Volume) -> None:
    assert survey_step(volume) == 0


def test_surveyed_slices_keep_their_place_in_the_patient() -> None:
    volume = Volume(
        np.arange(40 * 3 * 2, dtype=np.int16).reshape(40, 3, 2),
        (0.5, 0.7, 0.9),
        (10.0, -20.0, 30.0),
        np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]]),
    )
    sparse = surveyed_slices(volume, 8)
    assert sparse.shape == (5, 3, 2) and sparse.spacing_zyx == (4.0, 0.7, 0.9)
    assert np.array_equal(sparse.array[2], volume.array[16])
    index = np.array([[2, 1, 1], [4, 2, 0]])
    assert np.allclose(sparse.index_to_lps(index), volume.index_to_lps(index * [8, 1, 1]))


def test_each_surveyed_slice_stands_for_its_neighbours() -> None:
    per_slice = np.arange(5)
    spread = spread_slices(per_slice, 4, 18)
    assert spread.tolist() == [0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4]


@pytest.fixture(scope="module")
def bundled() -> Segmenter:
    return Segmenter(find_model(None), SegmentOptions(threads=2, survey=True))


def test_a_long_thigh_scan_ends_after_the_survey_with_its_reason(bundled: Segmenter) -> None:
    thigh = generate_negative("thigh", 95000, WideChoices(pixels=128), shape_zyx=(160, 128, 128)).ct
    step = bundled.survey_step(thigh)
    assert step >= MIN_STEP
    seen: list[float] = []
    result = bundled.run(thigh, progress=lambda stage, fraction: seen.append(fraction))
    assert seen == sorted(seen) and seen[-1] == 1.0, "progress climbs and ends, though most slices never ran"
    assert not result.labels.array.any() and result.labels.shape == thigh.shape
    assert result.settings["survey_step"] == step
    assert f"seen on one slice in {step}" in result.no_knee
    assert result.top_probability is not None and result.top_probability.shape == thigh.shape


def test_a_long_knee_scan_is_segmented_whole_exactly_as_without_the_survey(bundled: Segmenter) -> None:
    pins = WideChoices(pixels=128, fov_mm=200.0, coverage_mm=(100.0, 100.0), legs="one")
    knee = generate_phantom(91001, variation="wide", choices=pins, shape_zyx=(160, 128, 128)).ct
    assert bundled.survey_step(knee) >= MIN_STEP
    seen: list[float] = []
    surveyed = bundled.run(knee, progress=lambda stage, fraction: seen.append(fraction))
    assert seen == sorted(seen) and seen[-1] == 1.0
    direct = Segmenter(bundled.package, SegmentOptions(threads=2, survey=False)).run(knee)
    assert not surveyed.no_knee and "survey_step" not in surveyed.settings
    assert np.array_equal(surveyed.labels.array, direct.labels.array)
    assert surveyed.volumes_ml["femur"] > 20 and surveyed.volumes_ml["tibia"] > 20


def test_the_survey_is_asked_for_and_never_runs_exact_or_without_post_processing() -> None:
    """Off by default: with the 1.1.0 candidate model the sampled layout once called a flexed knee "a tibia
    without a femur" (core/inference/survey.py)."""
    package = find_model(None)
    long_scan = _volume(300, 0.625)
    assert Segmenter(package).survey_step(long_scan) == 0
    assert Segmenter(package, SegmentOptions(survey=True)).survey_step(long_scan) == 16
    assert Segmenter(package, SegmentOptions(survey=True, exact=True)).survey_step(long_scan) == 0
    assert Segmenter(package, SegmentOptions(survey=True, postprocess=False)).survey_step(long_scan) == 0
