"""A hip-to-ankle scan: femoral head and ankle centres, mechanical axes, HKA (wide phantom, issue 12)."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.phantom.axes import NEUTRAL
from kneeseg_app.core.phantom.frames import leg_frames
from kneeseg_app.core.phantom.long_bones import hip_points
from kneeseg_app.core.phantom.variation import WideChoices
from kneeseg_app.core.planning import plan_labels
from kneeseg_app.core.volume import Volume


@pytest.fixture(scope="module")
def long_leg():
    choices = WideChoices(**{**NEUTRAL, "coverage_mm": (470.0, 420.0), "slice_mm": 2.0, "pixels": 192, "fov_mm": 230.0})
    return generate_phantom(31, variation="wide", choices=choices)


def test_the_femoral_head_centre_is_found_where_the_generator_put_it(long_leg) -> None:
    leg = long_leg.params.legs[0]
    assert leg.long is not None
    true_head = leg_frames(leg).femur.to_world(hip_points(leg.shape, leg.long)[0][None])[0]

    knee = plan_labels(long_leg.labels, long_leg.ct).knees[0]

    head = knee.finding("femoral_head_centre")
    assert head.ok and np.linalg.norm(head.point - true_head) < 2.5
    assert knee.finding("ankle_centre").ok
    assert knee.finding("femoral_mechanical_axis").ok and knee.finding("tibial_mechanical_axis").ok


@pytest.mark.slow
def test_mechanical_angles_match_the_phantoms_truth(long_leg) -> None:
    knee = plan_labels(long_leg.labels, long_leg.ct).knees[0]
    truth = long_leg.truth.leg(knee.side)

    for name in ("hka_deg", "mldfa_deg", "distal_femoral_valgus_deg"):
        assert knee.measures[name].ok, name
        assert knee.measures[name].value == pytest.approx(truth.measures[name], abs=1.0), name
    # a straight phantom leg: the knee lies within a few degrees of the hip-ankle line
    assert 170.0 < knee.measures["hka_deg"].value < 190.0
    assert 0.0 < knee.measures["distal_femoral_valgus_deg"].value < 10.0


def _series(volume, z_lo: float, z_hi: float, name: str):
    """The slices of ``volume`` between two heights (LPS z), as a separate series would hold them."""
    zs = volume.index_to_lps(
        np.stack([np.arange(volume.shape[0]), np.zeros(volume.shape[0]), np.zeros(volume.shape[0])], 1)
    )[:, 2]
    keep = np.flatnonzero((zs >= z_lo) & (zs <= z_hi))
    part = volume.array[keep[0] : keep[-1] + 1]
    origin = volume.index_to_lps(np.array([keep[0], 0, 0]))
    return Volume(part.copy(), volume.spacing_zyx, tuple(origin), volume.direction, source=name)


def test_hip_and_ankle_come_from_separate_series_of_the_same_study(long_leg) -> None:
    whole = plan_labels(long_leg.labels, long_leg.ct).knees[0]
    knee_z = whole.finding("notch_centre").point[2]
    labels = long_leg.labels
    knee = _series(labels, knee_z - 150.0, knee_z + 150.0, "knee series")
    hip = _series(labels, knee_z + 300.0, knee_z + 1000.0, "hip series")
    ankle = _series(labels, knee_z - 1000.0, knee_z - 280.0, "ankle series")

    alone = plan_labels(knee).knees[0]
    combined = plan_labels(knee, side=whole.side, extra_labels=[hip, ankle]).knees[0]

    assert alone.finding("femoral_head_centre").status == "not_in_scan"
    head = combined.finding("femoral_head_centre")
    assert head.ok and "hip series" in head.note
    assert np.linalg.norm(head.point - whole.finding("femoral_head_centre").point) < 1.0
    assert "ankle series" in combined.finding("ankle_centre").note
    assert combined.measures["hka_deg"].value == pytest.approx(whole.measures["hka_deg"].value, abs=0.5)
