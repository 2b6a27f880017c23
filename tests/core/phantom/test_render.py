"""Wide phantoms rendered: image-only axes leave the labels exact; fibula, patella, fabella and metal are 0."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kneeseg_app.core.phantom import bone_mask, render_phantom
from kneeseg_app.core.phantom.draw_wide import draw_wide_params
from kneeseg_app.core.phantom.extras import OTHER_BONE
from kneeseg_app.core.phantom.variation import Scanner, WideChoices

GRID = dict(shape_zyx=(20, 112, 112), spacing_zyx=(3.5, 1.7, 1.7))
KNEE = WideChoices(
    legs="one", off_centre=0.0, coverage_mm=(35.0, 35.0), implant="none", padding_hu=None, position="HFS"
)


def params(seed: int = 3, **pins):
    return draw_wide_params(seed, replace(KNEE, **pins), **GRID)


def test_image_only_axes_change_the_image_but_never_the_labels() -> None:
    base = params()
    reference = render_phantom(base)
    variants = [
        replace(base, acquisition=replace(base.acquisition, noise_sd=55.0, hu_offset=-40.0)),
        replace(
            base,
            extras=replace(
                base.extras, scanner=Scanner(sharpness=1.0, psf_sigma_mm=0.15, edge_boost=0.8, ringing_cutoff=0.6)
            ),
        ),
        replace(
            base,
            extras=replace(
                base.extras, scanner=replace(base.extras.scanner, hu_scale=1.04, clip_low=-1024.0, clip_high=3071.0)
            ),
        ),
        replace(base, tissues=replace(base.tissues, cortical=900.0, cancellous=80.0)),
        replace(base, extras=replace(base.extras, scanner=replace(base.extras.scanner, bone_streak_hu=60.0))),
    ]
    for variant in variants:
        other = render_phantom(variant)
        assert not np.array_equal(other.ct.array, reference.ct.array)
        assert np.array_equal(other.labels.array, reference.labels.array)


def test_labels_are_exact_femur_1_tibia_2_and_every_other_bone_0() -> None:
    phantom = render_phantom(replace(params(oa_grade=3, fabella=True, implant="none")), with_tissues=True)
    tissues, labels = phantom.tissues.array, phantom.labels.array
    assert set(np.unique(labels)) == {0, 1, 2}
    for bone in ("fibula", "patella"):
        assert bone_mask(tissues, bone).sum() > 20 and not labels[bone_mask(tissues, bone)].any()
    fabella = tissues == OTHER_BONE
    assert fabella.sum() > 3 and not labels[fabella].any()
    assert np.array_equal(labels == 1, bone_mask(tissues, "femur"))
    assert np.array_equal(labels == 2, bone_mask(tissues, "tibia"))


@pytest.mark.parametrize("kind", ["tkr", "plate", "nail"])
def test_metal_is_above_2500_hu_labelled_0_and_streaks_the_slice(kind: str) -> None:
    base = params(seed=6, implant=kind, implant_same_leg=True, noise_sd=5.0)
    base = replace(base, extras=replace(base.extras, scanner=replace(base.extras.scanner, clip_high=None)))
    metal_free = replace(base, extras=replace(base.extras, implants=()))
    phantom = render_phantom(base, with_tissues=True)
    clean = render_phantom(metal_free)
    metal = phantom.tissues.array == 6
    assert metal.sum() > 30
    assert np.median(phantom.ct.array[metal]) > 2500
    assert not phantom.labels.array[metal].any(), "metal is not bone"
    assert np.array_equal(phantom.labels.array[~metal], clean.labels.array[~metal]), (
        "bone outside the metal keeps its label"
    )
    slices = np.nonzero(metal.any(axis=(1, 2)))[0]
    away = np.ones(metal.shape[0], bool)
    for z in slices:
        away[max(z - 2, 0) : z + 3] = False
    difference = np.abs(phantom.ct.array.astype(np.int32) - clean.ct.array)
    soft = (phantom.tissues.array[slices] == 4) | (phantom.tissues.array[slices] == 3)
    assert difference[slices][soft].mean() > 15, "streaks and beam hardening beyond the metal"
    if away.any():
        assert difference[away].mean() < 1.0, "slices without metal have no streaks"


def test_bone_streaks_darken_the_band_between_two_femora() -> None:
    def image(strength: float) -> np.ndarray:
        pins = dict(legs="touching", centre_on_pair=True, noise_sd=5.0, bone_streaks=strength, bone_quality=0.5)
        wide_view = draw_wide_params(4, replace(KNEE, **pins), shape_zyx=(6, 192, 192), spacing_zyx=(4.0, 1.6, 1.6))
        return render_phantom(wide_view).ct.array.astype(np.int32)

    plain, streaked = image(0.0), image(60.0)
    difference = streaked - plain
    assert difference.min() < -15, "beam hardening between the bones"
    assert np.abs(difference).mean() < 10, "a subtle effect, not a new image"


def test_contrast_fills_the_artery_and_calcified_plaques_are_bright() -> None:
    phantom = render_phantom(params(seed=2, contrast=True, calcification=True, noise_sd=5.0), with_tissues=True)
    tissues, ct = phantom.tissues.array, phantom.ct.array
    lumen, plaques = tissues == 7, tissues == 8
    assert lumen.sum() > 10 and np.median(ct[lumen]) > 120
    assert plaques.sum() > 0 and ct[plaques].max() > 300
    assert not phantom.labels.array[lumen | plaques].any()


def test_varus_swings_the_tibial_shaft_medially() -> None:
    def distal_tibia_x(varus: float) -> tuple[float, str]:
        pins = replace(KNEE, oa_grade=4, varus_deg=varus, flexion_deg=0.0, rotation_deg=0.0, coverage_mm=(15.0, 180.0))
        p = draw_wide_params(9, pins, shape_zyx=(40, 112, 112), spacing_zyx=(5.0, 2.2, 2.2))
        phantom = render_phantom(p)
        tibia = phantom.labels.array == 2
        knee_z = phantom.ct.lps_to_index(p.legs[0].knee_lps)[0]
        low = [z for z in range(tibia.shape[0]) if tibia[z].sum() > 5 and z < knee_z - 120.0 / 5.0]
        xs = np.concatenate([np.nonzero(tibia[z])[1] for z in low])
        return float(xs.mean()) * 2.2, p.legs[0].side

    neutral, side = distal_tibia_x(0.0)
    varus, _ = distal_tibia_x(12.0)
    medial = -1.0 if side == "left" else 1.0  # the patient's left is +x
    assert medial * (varus - neutral) > 120.0 * np.sin(np.radians(8.0)), "the distal tibia moves towards the midline"
