"""Wide-variation draws: every axis of issue 12 within its range, each one pinnable without moving the others."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from kneeseg_app.core.phantom.draw_wide import VOXEL_BUDGET, draw_wide_params
from kneeseg_app.core.phantom.variation import PADDINGS, POSITIONS_WIDE, WideChoices

SEEDS = range(60)


@pytest.fixture(scope="module")
def drawn():
    return [draw_wide_params(seed) for seed in SEEDS]


def test_the_same_seed_and_choices_give_the_same_params() -> None:
    assert draw_wide_params(3) == draw_wide_params(3)
    assert draw_wide_params(3) != draw_wide_params(4)


def test_scanner_axes_span_their_ranges(drawn) -> None:
    noise = [p.acquisition.noise_sd for p in drawn]
    sharp = [p.extras.scanner.sharpness for p in drawn]
    assert 5 <= min(noise) < 10 and 40 < max(noise) <= 60
    assert min(sharp) < 0.15 and max(sharp) > 0.85
    assert any(p.extras.scanner.ringing_cutoff is not None for p in drawn)
    assert all(abs(p.acquisition.hu_offset) <= 40 and 0.95 <= p.extras.scanner.hu_scale <= 1.05 for p in drawn)
    assert {p.acquisition.padding_hu for p in drawn} == {None, *PADDINGS}


def test_grids_span_fov_pixels_and_slices_within_the_voxel_budget(drawn) -> None:
    for p in drawn:
        nz, ny, nx = p.acquisition.shape_zyx
        sz, sy, sx = p.acquisition.spacing_zyx
        assert ny == nx and 256 <= nx <= 1024 and sy == sx
        assert 0.3 - 1e-9 <= sx <= 1.0 + 1e-9 and 0.5 <= sz <= 5.0
        assert 150 - 1e-6 <= nx * sx <= 500 + 1e-6
        assert nz * ny * nx <= VOXEL_BUDGET
    pixels = {p.acquisition.shape_zyx[2] for p in drawn}
    assert min(pixels) <= 320 and max(pixels) >= 768
    extents = [(p.acquisition.shape_zyx[0] - 1) * p.acquisition.spacing_zyx[0] for p in drawn]
    assert min(extents) < 120 and max(extents) > 600


def test_pose_legs_and_positions_span_their_ranges(drawn) -> None:
    assert {p.acquisition.patient_position for p in drawn} == set(POSITIONS_WIDE)
    flexion = [p.legs[0].flexion_deg for p in drawn]
    rotation = [p.legs[0].axial_rotation_deg for p in drawn]
    assert 0 <= min(flexion) < 5 and 35 < max(flexion) <= 45
    assert -25 <= min(rotation) < -15 and 15 < max(rotation) <= 25
    assert {len(p.legs) for p in drawn} == {1, 2}
    prone = [p for p in drawn if p.acquisition.patient_position.endswith("P") and p.table.present]
    assert prone and all(p.table.side == -1.0 for p in prone), "prone: the table is in front of the patient"


def test_legs_apart_or_touching_as_pinned() -> None:
    def knee_distance(legs: str) -> float:
        p = draw_wide_params(5, WideChoices(legs=legs))
        return abs(p.legs[0].knee_lps[0] - p.legs[1].knee_lps[0])

    one = draw_wide_params(5, WideChoices(legs="one"))
    assert len(one.legs) == 1
    assert knee_distance("touching") < 2 * 51 * 1.2 + 30 < knee_distance("apart") + 60
    assert knee_distance("touching") < knee_distance("apart")


def test_off_centre_knees_reach_the_edge_of_the_field_of_view() -> None:
    p = draw_wide_params(2, WideChoices(off_centre=0.7, legs="one"))
    nz, ny, nx = p.acquisition.shape_zyx
    radius = 0.5 * nx * p.acquisition.spacing_zyx[2]
    x, y, _ = p.legs[0].knee_lps
    assert math.hypot(x, y) == pytest.approx(0.7 * radius, rel=1e-6)


def test_disease_habitus_bone_and_metal_axes() -> None:
    grades = {g: draw_wide_params(8, WideChoices(oa_grade=g, legs="one")).legs[0] for g in range(5)}
    gaps = [min(leg.gap_medial_mm, leg.gap_lateral_mm) for leg in grades.values()]
    assert gaps[0] > 4.0 and gaps[4] <= 0.3 and gaps == sorted(gaps, reverse=True)
    assert not grades[0].spurs and grades[4].spurs
    assert abs(grades[4].varus_deg) > abs(grades[2].varus_deg) and grades[0].varus_deg == 0
    thin, obese = (draw_wide_params(8, WideChoices(habitus=h)) for h in (0.0, 1.0))
    assert thin.fat_mm < 2 and obese.fat_mm > 40
    weak, dense = (draw_wide_params(8, WideChoices(bone_quality=q)) for q in (-1.0, 1.0))
    assert (
        weak.tissues.cortical < dense.tissues.cortical - 600
        and weak.tissues.cancellous < dense.tissues.cancellous - 300
    )
    assert weak.legs[0].shape.femur_cortex < dense.legs[0].shape.femur_cortex
    for kind in ("tkr", "plate", "nail"):
        implants = draw_wide_params(8, WideChoices(implant=kind, implant_same_leg=False, legs="apart")).extras.implants
        assert [(i.kind, i.leg) for i in implants] == [(kind, 1)] and implants[0].hu > 2500


def test_pinning_one_axis_keeps_every_other_draw() -> None:
    base = draw_wide_params(12)
    pinned = draw_wide_params(12, WideChoices(noise_sd=33.0))
    assert pinned.acquisition == replace(base.acquisition, noise_sd=33.0)
    assert pinned.legs == base.legs and pinned.extras == base.extras and pinned.table == base.table
    flexed = draw_wide_params(12, WideChoices(flexion_deg=40.0))
    assert flexed.acquisition == base.acquisition and flexed.legs[0].flexion_deg == 40.0
    assert flexed.legs[0].shape == base.legs[0].shape


def test_long_scans_get_hip_and_ankle_anatomy_and_short_ones_do_not() -> None:
    long = draw_wide_params(1, WideChoices(coverage_mm=(480.0, 420.0)))
    short = draw_wide_params(1, WideChoices(coverage_mm=(40.0, 30.0)))
    assert long.legs[0].long is not None and short.legs[0].long is None
    extent = (long.acquisition.shape_zyx[0] - 1) * long.acquisition.spacing_zyx[0]
    assert extent == pytest.approx(900.0, abs=long.acquisition.spacing_zyx[0])
    assert np.prod(long.acquisition.shape_zyx) <= VOXEL_BUDGET


def test_pinned_fov_matrix_and_slices_give_that_grid() -> None:
    from kneeseg_app.core.phantom import generate_phantom

    choices = WideChoices(fov_mm=200.0, pixels=256, slice_mm=2.5, coverage_mm=(20.0, 20.0), legs="one", off_centre=0.0)
    phantom = generate_phantom(4, variation="wide", choices=choices)
    assert phantom.ct.shape == (17, 256, 256)
    assert phantom.ct.spacing_zyx == pytest.approx((2.5, 200.0 / 256, 200.0 / 256))
    assert phantom.labels.same_grid(phantom.ct)
    assert (phantom.labels.array == 1).any() and (phantom.labels.array == 2).any()


def test_anatomy_varies_bone_proportions_beyond_the_classic_draw() -> None:
    from kneeseg_app.core.phantom.draw import draw_params
    from kneeseg_app.core.phantom.draw_wide import SHAPE_LENGTHS

    textbook = draw_wide_params(6, WideChoices(anatomy=0.0, bone_quality=0.0, legs="one")).legs[0].shape
    varied = draw_wide_params(6, WideChoices(anatomy=1.0, bone_quality=0.0, legs="one")).legs[0].shape
    classic = draw_params(6, both_legs=True).legs[0].shape
    assert textbook.cond_radius == classic.cond_radius and textbook.plateau_half_width == classic.plateau_half_width
    ratios = [getattr(varied, n) / getattr(textbook, n) for n in SHAPE_LENGTHS]
    assert all(0.88 - 1e-9 <= r <= 1.12 + 1e-9 for r in ratios) and max(abs(r - 1) for r in ratios) > 0.05
    widest = varied.notch_half_width + 2 * max(varied.cond_half_width_med, varied.cond_half_width_lat)
    assert varied.epicondyle_half_width > widest, "the epicondyles still stand proud of the condyles"


def test_a_given_slice_count_keeps_pinned_or_realistic_slice_spacing() -> None:
    shape = (300, 512, 512)
    thick = draw_wide_params(3, WideChoices(slice_mm=5.0), shape_zyx=shape)
    assert thick.acquisition.spacing_zyx[0] == 5.0 and thick.legs[0].long is not None, "1495 mm: hip to ankle"
    short = draw_wide_params(3, WideChoices(coverage_mm=(30.0, 30.0)), shape_zyx=shape)
    assert short.acquisition.spacing_zyx[0] == pytest.approx(60.0 / 299)
    for seed in range(20):
        sz = draw_wide_params(seed, shape_zyx=shape).acquisition.spacing_zyx[0]
        assert 60.0 / 299 - 1e-9 <= sz <= min(5.0, 1200.0 / 299) + 1e-9
