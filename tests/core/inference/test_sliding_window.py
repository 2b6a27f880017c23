"""Tile steps and Gaussian weights equal nnU-Net's; tiles cover every voxel."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.inference.sliding_window import (
    Tile,
    batched,
    compute_steps,
    gaussian_importance,
    mirror_combinations,
    tiles_2d,
    tiles_3d,
    weight_sum,
)


@pytest.mark.parametrize(
    "image,tile,step",
    [
        ((512, 512), (512, 512), 0.5),
        ((640, 600), (512, 512), 0.5),
        ((110, 97, 64), (64, 64, 64), 0.5),
        ((300, 301), (128, 96), 0.5),
        ((300, 301), (128, 96), 0.75),
        ((1000,), (128,), 1.0),
    ],
)
def test_compute_steps_equals_nnunet(image, tile, step) -> None:
    swp = pytest.importorskip("nnunetv2.inference.sliding_window_prediction")
    assert compute_steps(image, tile, step) == swp.compute_steps_for_sliding_window(image, tile, step)


def test_compute_steps_refuses_an_image_smaller_than_the_tile() -> None:
    with pytest.raises(ValueError):
        compute_steps((100, 50), (64, 64), 0.5)


@pytest.mark.parametrize("tile", [(64, 64), (512, 512), (96, 160), (28, 256, 224)])
def test_gaussian_equals_nnunet_compute_gaussian_bit_for_bit(tile) -> None:
    torch = pytest.importorskip("torch")
    swp = pytest.importorskip("nnunetv2.inference.sliding_window_prediction")
    expected = swp.compute_gaussian(
        tile, sigma_scale=1.0 / 8, value_scaling_factor=10, dtype=torch.float16, device=torch.device("cpu")
    )
    ours = gaussian_importance(tile)
    assert ours.shape == tile
    assert np.array_equal(ours, expected.float().numpy())
    assert ours.min() > 0 and ours.max() == pytest.approx(10.0, rel=1e-3)


def test_gaussian_is_read_only_so_a_shared_cached_map_cannot_be_corrupted() -> None:
    with pytest.raises(ValueError):
        gaussian_importance((32, 32))[0, 0] = 5


def test_mirror_combinations_follow_nnunet_order() -> None:
    assert mirror_combinations((0, 1)) == [(0,), (1,), (0, 1)]
    assert mirror_combinations((0, 1, 2)) == [(0,), (1,), (2,), (0, 1), (0, 2), (1, 2), (0, 1, 2)]
    assert mirror_combinations(()) == []


def test_tiles_cover_every_pixel_and_weights_sum_like_accumulation() -> None:
    image, tile = (100, 77), (32, 48)
    steps = compute_steps(image, tile, 0.5)
    weights = gaussian_importance(tile)
    total = weight_sum(image, tile, steps, weights)
    assert (total > 0).all()
    manual = np.zeros(image, dtype=np.float32)
    for t in tiles_2d(1, image, tile, 0.5):
        manual[t.window(tile)[1:]] += weights
    assert np.array_equal(manual, total)


def test_2d_tiles_are_slice_major_and_3d_tiles_follow_nnunet_order() -> None:
    tiles = tiles_2d(2, (64, 96), (64, 64), 0.5)
    assert [t.slice_index for t in tiles] == [0, 0, 1, 1]
    assert tiles[1] == Tile(0, (0, 32))
    assert tiles_3d((64, 64, 96), (64, 64, 64), 0.5)[-1] == Tile(None, (0, 0, 32))


def test_batched_keeps_order_and_sizes() -> None:
    items = list(tiles_2d(3, (64, 64), (64, 64), 0.5))
    groups = list(batched(items, 2))
    assert [len(g) for g in groups] == [2, 1]
    assert [t for g in groups for t in g] == items
