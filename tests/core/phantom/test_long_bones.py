"""Hip-to-ankle scans: femoral head and distal tibia are labelled, pelvis, talus and calcaneus are not."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.phantom import render_phantom
from kneeseg_app.core.phantom.draw_wide import draw_wide_params
from kneeseg_app.core.phantom.long_bones import hip_points
from kneeseg_app.core.phantom.variation import WideChoices


@pytest.fixture(scope="module")
def long_scan():
    choices = WideChoices(
        legs="one",
        off_centre=0.0,
        coverage_mm=(500.0, 460.0),
        flexion_deg=0.0,
        rotation_deg=0.0,
        implant="none",
        padding_hu=None,
        position="HFS",
    )
    params = draw_wide_params(21, choices, shape_zyx=(97, 96, 96), spacing_zyx=(10.0, 3.2, 3.2))
    return render_phantom(params, with_tissues=True)


def heights(phantom, mask: np.ndarray) -> np.ndarray:
    """Height (mm above the joint line) of every slice that contains ``mask``."""
    knee_z = phantom.params.legs[0].knee_lps[2]
    zs = np.nonzero(mask.any(axis=(1, 2)))[0]
    return phantom.ct.index_to_lps(np.stack([zs, zs * 0, zs * 0], axis=1))[:, 2] - knee_z


def test_the_femur_reaches_its_head_and_the_tibia_its_plafond(long_scan) -> None:
    leg = long_scan.params.legs[0]
    femur = heights(long_scan, long_scan.labels.array == 1)
    tibia = heights(long_scan, long_scan.labels.array == 2)
    assert femur.max() > leg.long.femur_length - 40, "the femoral head is femur"
    assert femur.max() < leg.long.femur_length + 15, "nothing above the head"
    assert tibia.min() < -leg.long.tibia_length + 20 and tibia.min() > -leg.long.tibia_length - 35


def test_pelvis_talus_and_calcaneus_are_bone_but_not_labelled(long_scan) -> None:
    tissues, labels = long_scan.tissues.array, long_scan.labels.array
    leg = long_scan.params.legs[0]
    unlabelled = (tissues >= 30) & (tissues < 50)
    hip = heights(long_scan, unlabelled)
    assert (hip > leg.long.femur_length - 120).any(), "the acetabulum is drawn around the head"
    assert (hip < -leg.long.tibia_length - 10).any(), "talus and calcaneus below the plafond"
    assert not labels[unlabelled].any()
    assert np.median(long_scan.ct.array[unlabelled]) > 150


def test_the_femoral_head_sits_medial_to_the_trochanter() -> None:
    leg = draw_wide_params(21, WideChoices(coverage_mm=(500.0, 450.0))).legs[0]
    head, junction = hip_points(leg.shape, leg.long)
    assert head[0] < junction[0] - 20, "the neck runs medially up to the head"
    assert head[2] > junction[2] + 15
