"""SynthSeg-style images: random contrast per tissue, texture, bias, blur and resolution; labels untouched."""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.phantom.synthseg import SynthSegSettings, lower_resolution, plausible_range, randomise_contrast


def tissue_map() -> np.ndarray:
    tissues = np.zeros((16, 40, 40), np.uint8)
    tissues[:, 8:32, 8:32] = 3
    tissues[:, 12:28, 12:28] = 4
    tissues[:, 16:24, 14:20] = 10
    tissues[:, 17:23, 15:19] = 11
    tissues[:, 16:24, 21:27] = 30
    return tissues


def test_each_tissue_gets_its_own_random_hu_and_cases_differ() -> None:
    tissues = tissue_map()
    flat = SynthSegSettings(
        texture_sd_max=0.0, bias_max_hu=0.0, bias_gain_max=0.0, blur_max_mm=0.0, lowres_max_factor=1, noise_sd_max=0.0
    )
    a = randomise_contrast(tissues, (2.0, 1.0, 1.0), np.random.default_rng(1), flat)
    b = randomise_contrast(tissues, (2.0, 1.0, 1.0), np.random.default_rng(2), flat)
    assert a.dtype == np.int16 and a.shape == tissues.shape
    for code in (0, 3, 4, 10, 11, 30):
        values = np.unique(a[tissues == code])
        assert values.size == 1, "without texture, noise or blur a tissue is one value"
    assert not np.array_equal(a, b)


def test_plausible_and_beyond_plausible_contrasts() -> None:
    tissues = tissue_map()
    plausible = SynthSegSettings(
        beyond_probability=0.0,
        texture_sd_max=0.0,
        bias_max_hu=0.0,
        bias_gain_max=0.0,
        blur_max_mm=0.0,
        lowres_max_factor=1,
        noise_sd_max=0.0,
    )
    image = randomise_contrast(tissues, (2.0, 1.0, 1.0), np.random.default_rng(3), plausible)
    for code in (3, 4, 10, 11):
        lo, hi = plausible_range(code)
        assert lo - 1 <= image[tissues == code][0] <= hi + 1
    beyond = [
        randomise_contrast(tissues, (2.0, 1.0, 1.0), np.random.default_rng(s), SynthSegSettings(beyond_probability=1.0))
        for s in range(6)
    ]
    fat_values = [float(np.median(img[tissues == 3])) for img in beyond]
    assert max(fat_values) > 100, "fat can be brighter than any real fat"


def test_padding_outside_the_circle_touches_only_air_and_table() -> None:
    tissues = tissue_map()
    tissues[:, :, 30:] = 4  # muscle reaching out of the circle
    padded = SynthSegSettings(
        padding_probability=1.0, noise_sd_max=0.0, texture_sd_max=0.0, blur_max_mm=0.0, lowres_max_factor=1
    )
    image = randomise_contrast(tissues, (2.0, 1.0, 1.0), np.random.default_rng(5), padded)
    corner, other_corner = image[:, 0, 0], image[:, 0, 39]
    assert np.unique(corner).size == 1, "the padding is one value"
    assert not np.array_equal(corner, other_corner), "muscle outside the circle keeps its image"


def test_organ_blobs_and_gas_of_negatives_are_not_drawn_as_bone() -> None:
    assert plausible_range(60)[1] < 300 and plausible_range(64)[1] < -800
    assert plausible_range(50)[0] >= 700 and plausible_range(51)[1] <= 700, "other bones: cortex and cancellous"


def test_bias_blur_and_low_resolution_change_the_image_smoothly() -> None:
    tissues = tissue_map()
    image = randomise_contrast(tissues, (2.0, 1.0, 1.0), np.random.default_rng(7))
    assert image.min() >= -32768 and np.isfinite(image).all()
    stack = np.repeat(np.arange(12, dtype=np.float32)[:, None, None], 4, axis=1).repeat(4, axis=2) * 10.0
    low = lower_resolution(stack, 0, 3)
    assert low.shape == stack.shape
    assert np.abs(np.diff(low[:, 0, 0])).max() <= 10.0 * 3 + 1e-3
