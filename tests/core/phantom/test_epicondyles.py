"""The planning anatomy of the femur (medial sulcus, posterior condylar twist): off in every
default draw, bit for bit; where pinned on, the labels and the truth show what was drawn."""

from __future__ import annotations

import hashlib
import math
from dataclasses import replace

import numpy as np
import pytest

from kneeseg_app.core.phantom import draw_params, generate_phantom, render_phantom
from kneeseg_app.core.phantom.draw_wide import draw_wide_params
from kneeseg_app.core.phantom.epicondyles import flare_shear, with_planning_anatomy
from kneeseg_app.core.phantom.params import EpicondylarSulcus

# sha256 of the CT and label arrays as rendered before the planning anatomy existed (the demo
# model's training data and the test suites depend on these draws staying the same)
BEFORE = {
    ("classic", 5, (48, 128, 128)): "990088ebbd4d3e38d7d2b9832f487217cbedc292d9334295f25244d4779e397d",
    ("classic", 500, (60, 160, 160)): "1599b4fd94c18e33106c77e6a7480d6bb6d80fd862654019163ae2eeec8ee9fb",
    ("wide", 900, (40, 128, 128)): "e8a586120b1bf25a2b4078c5aa02cd268d74583840f4d3ae99a91b362a7f2f5f",
}
SULCUS = EpicondylarSulcus(posterior_mm=3.0, distal_mm=2.5, depth_mm=2.0, width_mm=5.0)


def _knee(seed: int, **shape_changes):
    """One healthy knee, 0.7 x 0.7 x 1.0 mm voxels, with the femur's shape changed as given."""
    params = draw_params(
        seed, shape_zyx=(161, 300, 300), spacing_zyx=(1.0, 0.7, 0.7), both_legs=False, osteoarthritis=False,
        flexion_deg=5.0, coverage_mm=(80.0, 80.0),
    )  # fmt: skip
    leg = params.legs[0]
    return replace(params, legs=(replace(leg, shape=replace(leg.shape, **shape_changes)),))


@pytest.mark.parametrize(("variation", "seed", "shape"), list(BEFORE))
def test_default_draws_render_bit_for_bit_as_before(variation: str, seed: int, shape: tuple) -> None:
    phantom = generate_phantom(seed, variation=variation, shape_zyx=shape)

    digest = hashlib.sha256(phantom.ct.array.tobytes() + phantom.labels.array.tobytes()).hexdigest()
    assert digest == BEFORE[(variation, seed, shape)]


def test_no_default_draw_has_a_sulcus_or_a_twist() -> None:
    for params in (draw_params(7, both_legs=True), draw_wide_params(7)):
        for leg in params.legs:
            assert leg.shape.sulcus is None and leg.shape.posterior_condylar_angle_deg == 0.0


def test_planning_anatomy_is_drawn_from_its_own_stream_and_changes_nothing_else() -> None:
    params = draw_params(12, both_legs=True)
    pinned = with_planning_anatomy(params)

    for before, after in zip(params.legs, pinned.legs):
        assert after.shape.sulcus is not None and 0.0 <= after.shape.posterior_condylar_angle_deg <= 6.0
        assert replace(after.shape, sulcus=None, posterior_condylar_angle_deg=0.0) == before.shape
        assert replace(after, shape=before.shape) == before
    assert with_planning_anatomy(params) == pinned


def test_the_sulcus_is_a_dent_in_the_femur_label_where_the_truth_says() -> None:
    with_dent = render_phantom(_knee(31, sulcus=SULCUS, posterior_condylar_angle_deg=3.0))
    k = with_dent.params.legs[0].shape
    # the same femur without the dent: the flare twisted as far, so only the dent differs
    without = render_phantom(_knee(31, posterior_condylar_angle_deg=math.degrees(math.atan(flare_shear(k)))))
    drawn = with_dent.truth.legs[0].drawn["sulcus"]

    carved = np.argwhere((without.labels.array == 1) & (with_dent.labels.array != 1))
    distance = np.linalg.norm(with_dent.labels.index_to_lps(carved) - drawn, axis=1)
    # a small dent around the drawn centre (its Gaussian flank flips boundary voxels a little further), nothing else
    assert len(carved) >= 20 and np.median(distance) < 4.0 and distance.max() < 8.0
    found = with_dent.truth.legs[0].point("medial_sulcus")
    assert found is not None and np.linalg.norm(found - drawn) < 1.5  # the rule finds it on the exact bone


@pytest.mark.parametrize("angle", [0.0, 5.0])
def test_the_true_posterior_condylar_angle_is_the_drawn_one(angle: float) -> None:
    phantom = render_phantom(_knee(31, sulcus=SULCUS, posterior_condylar_angle_deg=angle))
    leg = phantom.truth.legs[0]

    assert leg.drawn["posterior_condylar_angle_deg"] == pytest.approx(angle, abs=0.3)
    # the rules on the exact bone (surgical TEA, as the sulcus is found): the lateral epicondyle is
    # the top of a broad dome, so its patch drifts a little as the condyles turn the frame
    assert leg.point("medial_sulcus") is not None
    assert leg.measures["posterior_condylar_angle_deg"] == pytest.approx(angle, abs=2.0)
