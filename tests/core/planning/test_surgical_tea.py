"""The surgical TEA on phantom labels: the medial sulcus where it was drawn, and the clinical TEA
(with its reason) where there is none; the posterior condylar angle says which TEA it used."""

from __future__ import annotations

import copy
from dataclasses import replace

import numpy as np
import pytest

from kneeseg_app.core.anatomy.sulcus import NOT_DISCERNIBLE
from kneeseg_app.core.phantom import draw_params, render_phantom
from kneeseg_app.core.phantom.params import EpicondylarSulcus
from kneeseg_app.core.planning import plan_labels
from kneeseg_app.core.planning.edit import move_landmark

SULCUS = EpicondylarSulcus(posterior_mm=3.0, distal_mm=2.5, depth_mm=1.8, width_mm=5.0)


def _phantom(sulcus: EpicondylarSulcus | None, angle: float):
    """One osteoarthritic knee, 15 deg flexion, 0.7 x 0.7 x 1.0 mm voxels, with the femur's planning anatomy."""
    params = draw_params(
        31, shape_zyx=(201, 300, 300), spacing_zyx=(1.0, 0.7, 0.7), both_legs=False, osteoarthritis=True,
        flexion_deg=15.0, coverage_mm=(100.0, 100.0),
    )  # fmt: skip
    leg = params.legs[0]
    shape = replace(leg.shape, sulcus=sulcus, posterior_condylar_angle_deg=angle)
    return render_phantom(replace(params, legs=(replace(leg, shape=shape),)))


@pytest.fixture(scope="module")
def with_sulcus():
    phantom = _phantom(SULCUS, 4.0)
    return phantom, plan_labels(phantom.labels, phantom.ct).knees[0]


@pytest.fixture(scope="module")
def without_sulcus():
    phantom = _phantom(None, 4.0)
    return phantom, plan_labels(phantom.labels, phantom.ct).knees[0]


def test_the_surgical_tea_ends_at_the_drawn_sulcus(with_sulcus) -> None:
    phantom, knee = with_sulcus
    drawn = phantom.truth.legs[0].drawn

    sulcus = knee.finding("medial_sulcus")
    assert sulcus.ok and "mm deep" in sulcus.note
    assert np.linalg.norm(sulcus.point - drawn["sulcus"]) < 2.0
    axis = knee.finding("surgical_tea")
    assert axis.ok and np.allclose(axis.point, knee.finding("epicondyle_lateral").point)
    turn = np.degrees(np.arccos(np.clip(axis.direction @ drawn["surgical_tea"], -1.0, 1.0)))
    assert turn < 3.0  # ~75 mm long; its lateral end is the top of a broad dome (see test_epicondyles)


def test_the_posterior_condylar_angle_is_taken_against_the_surgical_tea(with_sulcus) -> None:
    phantom, knee = with_sulcus
    truth = phantom.truth.legs[0]

    angle = knee.measures["posterior_condylar_angle_deg"]
    assert "surgical TEA" in angle.note
    assert angle.value == pytest.approx(truth.measures["posterior_condylar_angle_deg"], abs=1.5)
    # the surgical TEA ends behind the medial prominence: turned internally against the clinical one
    assert angle.value < knee.measures["posterior_condylar_angle_clinical_deg"].value


def test_without_a_sulcus_the_clinical_tea_is_used_and_the_plan_says_why(without_sulcus) -> None:
    _, knee = without_sulcus

    sulcus = knee.finding("medial_sulcus")
    assert not sulcus.ok and sulcus.point is None and sulcus.status == "not_found"
    assert sulcus.note.startswith(NOT_DISCERNIBLE)
    axis, clinical = knee.finding("surgical_tea"), knee.finding("transepicondylar_axis")
    assert axis.ok and axis.note.startswith(NOT_DISCERNIBLE)
    assert np.allclose(axis.direction, clinical.direction) and axis.confidence != clinical.confidence
    angle = knee.measures["posterior_condylar_angle_deg"]
    assert "clinical TEA" in angle.note
    assert angle.value == knee.measures["posterior_condylar_angle_clinical_deg"].value


def test_a_sulcus_set_by_hand_becomes_the_surgical_teas_medial_end(without_sulcus) -> None:
    _, knee = without_sulcus
    edited = copy.deepcopy(knee)
    behind = edited.finding("epicondyle_medial").point + 4.0 * np.asarray(edited.bones["femur"].frame_axes)[1]

    angles = move_landmark(edited, "medial_sulcus", behind)

    axis = edited.finding("surgical_tea")
    assert np.allclose(axis.point, edited.finding("epicondyle_lateral").point) and "by hand" in axis.note
    # 4 mm further back at the medial end turns the TEA internally: the angle falls by ~3 deg
    drop = knee.measures["posterior_condylar_angle_deg"].value - angles["posterior_condylar_angle_deg"]
    assert 1.5 < drop < 5.0
    assert edited.measures["posterior_condylar_angle_deg"].note.endswith("against the surgical TEA")
    assert angles["posterior_condylar_angle_clinical_deg"] == pytest.approx(
        knee.measures["posterior_condylar_angle_clinical_deg"].value
    )
