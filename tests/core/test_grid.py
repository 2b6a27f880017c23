"""The one reference-grid check: one tolerance for the CLI, the window, the batch and the trainer."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core import grid
from kneeseg_app.core.errors import LabelMapError
from kneeseg_app.core.volume import Volume


def ct() -> Volume:
    return Volume(np.zeros((10, 20, 30), dtype=np.int16), (2.0, 0.8, 0.8), (-12.0, -8.0, 40.0))


def moved(volume: Volume, dx_mm: float) -> Volume:
    x, y, z = volume.origin_xyz
    return volume.with_array(np.zeros(volume.shape, np.uint8), origin_xyz=(x + dx_mm, y, z))


def test_the_tolerance_is_a_twentieth_of_the_smallest_voxel_side() -> None:
    assert grid.grid_tolerance_mm(ct()) == pytest.approx(0.04)


def test_header_rounding_is_the_same_grid_a_fraction_of_a_voxel_is_not() -> None:
    image = ct()
    assert grid.on_same_grid(moved(image, 0.03), image)  # float32 origins, 6-digit spacings
    assert not grid.on_same_grid(moved(image, 0.2), image)  # a quarter voxel: another grid


def test_size_spacing_orientation_and_shift_are_named() -> None:
    image = ct()
    smaller = Volume(np.zeros((10, 20, 29), np.uint8), image.spacing_zyx, image.origin_xyz)
    finer = image.with_array(np.zeros(image.shape, np.uint8), spacing_zyx=(2.0, 0.8, 0.7))
    flipped = image.with_array(np.zeros(image.shape, np.uint8), direction=np.diag([-1.0, 1.0, 1.0]))
    cases = [(smaller, "29x20x10 voxels"), (finer, "spacing"), (flipped, "directions"), (moved(image, 1.0), "1.00 mm")]
    for other, words in cases:
        with pytest.raises(LabelMapError, match=words):
            grid.require_same_grid(other, image, what="ref.nii.gz")


def test_every_reader_uses_the_one_check() -> None:
    """imageio (CLI --reference, window, batch, trainer), metrics and the DICOM SEG writer share it."""
    from kneeseg_app.core import imageio
    from kneeseg_app.core.dicom import seg
    from kneeseg_app.core.metrics import scores

    assert imageio.require_same_grid is grid.require_same_grid
    assert scores.on_same_grid is grid.on_same_grid and seg.on_same_grid is grid.on_same_grid


def test_metrics_of_two_label_volumes_accept_what_the_reader_accepts() -> None:
    from kneeseg_app.core.metrics import compare_label_volumes

    image = ct()
    labels = image.with_array(np.ones(image.shape, np.uint8))
    near = moved(labels, 0.03)
    near.array[:] = 1
    assert compare_label_volumes(near, labels)["femur"].dice == 1.0
