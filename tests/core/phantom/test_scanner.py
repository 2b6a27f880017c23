"""The scanner model of wide phantoms: kernel, noise, calibration, stored range, padding, streaks, orientation."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.phantom.params import Acquisition
from kneeseg_app.core.phantom.scanner import direction_for, finish_slice, metal_streaks, orient, prepare
from kneeseg_app.core.phantom.variation import PADDINGS, Scanner

SHAPE = (128, 128)
SPACING = (0.8, 0.8)


def acquisition(noise_sd: float = 0.0, hu_offset: float = 0.0, padding_hu: int | None = None) -> Acquisition:
    return Acquisition(
        (1, *SHAPE), (1.0, *SPACING), (0.0, 0.0, 0.0), "HFS", "STANDARD", noise_sd, 0.0, hu_offset, 1.0, 0.0, padding_hu
    )


def kernel(sharpness: float, ringing: float | None = None, **changes) -> Scanner:
    return Scanner(
        sharpness=sharpness,
        psf_sigma_mm=0.9 - 0.75 * sharpness,
        edge_boost=0.8 * sharpness**2,
        ringing_cutoff=ringing,
        **changes,
    )


def finish(
    image: np.ndarray, scanner: Scanner, acq: Acquisition, labels: np.ndarray | None = None, seed: int = 0
) -> np.ndarray:
    state = prepare(SHAPE, SPACING, acq, scanner, seed)
    return finish_slice(state, image.astype(np.float32), labels, acq, scanner, np.random.default_rng(seed))


def step_image() -> np.ndarray:
    image = np.full(SHAPE, -1000.0, np.float32)
    image[:, 64:] = 1000.0
    return image


def test_a_sharper_kernel_gives_steeper_edges() -> None:
    profiles = {t: finish(step_image(), kernel(t), acquisition())[64] for t in (0.0, 0.5, 1.0)}
    steepest = {t: float(np.abs(np.diff(p)).max()) for t, p in profiles.items()}
    assert steepest[0.0] < steepest[0.5] < steepest[1.0]
    assert steepest[0.0] < 0.6 * steepest[1.0]


def test_a_hard_cut_off_rings_at_edges_and_a_smooth_kernel_does_not() -> None:
    smooth = finish(step_image(), kernel(0.3), acquisition())[64]
    ringing = finish(step_image(), kernel(0.3, ringing=0.6), acquisition())[64]
    assert smooth[66:80].max() <= 1010 and smooth[48:62].min() >= -1010, "(almost) no overshoot without a cut-off"
    assert ringing[66:80].max() > 1030 and ringing[48:62].min() < -1030, "Gibbs overshoot on both sides"


@pytest.mark.parametrize("sd", [5.0, 20.0, 60.0])
@pytest.mark.parametrize("texture", [0.0, 1.0])
def test_noise_has_the_asked_standard_deviation(sd: float, texture: float) -> None:
    flat = np.zeros(SHAPE, np.float32)
    out = finish(flat, kernel(0.5, noise_texture=texture), acquisition(noise_sd=sd), seed=3)
    assert float(out.std()) == pytest.approx(sd, rel=0.12)


def test_noise_texture_follows_the_kernel() -> None:
    """Soft kernels give blotchy noise (neighbours alike), sharp ones fine grain."""
    flat = np.zeros(SHAPE, np.float32)

    def neighbour_correlation(t: float) -> float:
        out = finish(flat, kernel(t, noise_texture=0.0), acquisition(noise_sd=30.0), seed=4)
        return float(np.corrcoef(out[:, :-1].ravel(), out[:, 1:].ravel())[0, 1])

    assert neighbour_correlation(0.0) > neighbour_correlation(1.0) + 0.3


def test_calibration_gain_and_offset_and_the_stored_range() -> None:
    image = np.full(SHAPE, 1000.0, np.float32)
    image[:10] = -1000.0
    out = finish(image, kernel(0.5, hu_scale=1.03), acquisition(hu_offset=-25.0))
    assert float(np.median(out[40:80, 40:80])) == pytest.approx(1000 * 1.03 - 25, abs=1.0)
    clipped = finish(image, kernel(0.5, clip_low=-1024.0, clip_high=500.0), acquisition(noise_sd=40.0))
    assert clipped.min() >= -1024 and clipped.max() <= 500


@pytest.mark.parametrize("padding", PADDINGS)
def test_outside_the_reconstruction_circle_is_padding_and_unlabelled(padding: int) -> None:
    labels = np.ones(SHAPE, np.uint8)
    out = finish(np.zeros(SHAPE, np.float32), kernel(0.5), acquisition(noise_sd=10.0, padding_hu=padding), labels)
    assert (out[0, 0], out[-1, -1], out[0, -1]) == (padding, padding, padding)
    assert labels[0, 0] == 0 and labels[64, 64] == 1
    assert out[64, 64] != padding and labels[64, :].all(), "the circle touches the image edges"


def test_metal_makes_dark_bands_between_parts_and_streaks_around_them() -> None:
    metal = np.zeros(SHAPE, np.float32)
    metal[60:68, 40:48] = 1.0
    metal[60:68, 80:88] = 1.0
    streaks = metal_streaks(metal, 400.0, np.random.default_rng(0))
    between = float(streaks[62:66, 55:73].mean())
    beside = float(streaks[44:48, 55:73].mean())
    assert between < -40 and between < beside - 40, "beam hardening: dark band between the two metal parts"
    assert not streaks[metal > 0].any(), "metal itself is left alone"
    far = streaks[10:30, :]
    assert far.std() > 5.0, "streaks reach across the image"


@pytest.mark.parametrize("position", ["HFS", "FFS", "HFP", "FFP"])
def test_orientation_keeps_every_voxel_at_its_patient_position(position: str) -> None:
    from kneeseg_app.core.volume import Volume

    array = np.zeros((4, 5, 6), np.int16)
    array[1, 2, 3] = 7
    spacing, origin = (2.0, 1.0, 0.5), (10.0, -20.0, 30.0)
    before = Volume(array, spacing, origin).index_to_lps([1, 2, 3])
    (moved,), new_origin, direction = orient([array], spacing, origin, position)
    after = Volume(moved, spacing, new_origin, direction)
    assert np.allclose(after.index_to_lps(np.argwhere(moved == 7)[0]), before)
    assert np.allclose(direction, direction_for(position)) and np.isclose(np.linalg.det(direction), 1.0)
    assert (direction[1, 1] < 0) == position.endswith("P"), "prone scans store the patient's front at the bottom"
    assert (direction[2, 2] < 0) == position.startswith("FF"), "feet-first scans run from the feet"
