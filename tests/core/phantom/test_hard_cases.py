"""Hard training cases pin what the network found hardest, from their own random stream."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.phantom.draw_wide import draw_wide_params
from kneeseg_app.core.phantom.hard_cases import HARD_THEMES, THEME_CHANCE, hard_choices, hard_themes

SEEDS = range(3000, 3400)


def test_every_case_pins_at_least_one_theme_each_about_as_often_as_its_chance() -> None:
    themes = [hard_themes(s) for s in SEEDS]
    assert all(themes) and themes == [hard_themes(s) for s in SEEDS]
    for theme, chance in zip(HARD_THEMES, THEME_CHANCE):
        share = sum(theme in t for t in themes) / len(themes)
        assert chance - 0.1 <= share <= chance + 0.2, theme


@pytest.mark.parametrize("seed", list(range(3000, 3040)))
def test_the_pins_are_those_of_the_case_themes(seed: int) -> None:
    themes, pins = hard_themes(seed), hard_choices(seed)
    if "cut" in themes:
        assert 140.0 <= pins.fov_mm <= 220.0 and pins.legs in ("touching", "apart") and pins.centre_on_pair
    else:
        assert pins.fov_mm is None
    if "flexed" in themes:
        assert 28.0 <= pins.flexion_deg <= 45.0 and pins.slice_mm >= 2.0 and 2 <= pins.oa_grade <= 4
    else:
        assert pins.flexion_deg is None and pins.slice_mm is None
    if "long" in themes:
        assert 500.0 <= sum(pins.coverage_mm) <= 1200.0
    else:
        assert pins.coverage_mm is None
    assert pins.implant is None and pins.noise_sd is None, "every other axis stays drawn"


def test_two_legs_cut_by_the_field_of_view_reach_the_edge_of_the_reconstruction() -> None:
    """The bones run into the reconstructed circle's edge, where the padding begins: bone without its
    outer cortex, which a network trained on whole bones stopped short of."""
    seed = next(s for s in SEEDS if hard_themes(s) == ("cut",))
    pins = replace(hard_choices(seed), padding_hu=-3024, pixels=128)
    phantom = generate_phantom(seed, variation="wide", choices=pins, shape_zyx=(24, 128, 128))
    ct, labels = phantom.ct.array, phantom.labels.array
    padding = ct <= -3000
    near_padding = np.zeros_like(padding)
    for axis in (1, 2):
        for shift in (-1, 1):
            near_padding |= np.roll(padding, shift, axis=axis)
    assert padding.any() and np.count_nonzero((labels > 0) & near_padding) > 20
    assert set(np.unique(labels)) == {0, 1, 2}


@pytest.mark.parametrize("seed", [3000, 3001, 3005])
def test_every_axis_a_case_does_not_pin_stays_as_the_seed_draws_it(seed: int) -> None:
    """The pins come from a stream of their own: scanner, tissues, table and extras are the plain wide draw's."""
    plain = draw_wide_params(seed)
    hard = draw_wide_params(seed, hard_choices(seed))
    assert hard.acquisition.noise_sd == plain.acquisition.noise_sd
    assert hard.acquisition.kernel == plain.acquisition.kernel
    assert hard.tissues == plain.tissues and hard.table == plain.table and hard.fat_mm == plain.fat_mm
    assert hard != plain, "and the pinned axes do change the case"
