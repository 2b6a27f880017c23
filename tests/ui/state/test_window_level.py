"""Window/level behaves as in radiology viewers."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.ui.state import window_level as wl


def test_presets_are_the_usual_radiology_windows() -> None:
    assert wl.preset_window("Bone") == wl.WindowLevel(2000, 500)
    assert wl.preset_window("Soft tissue") == wl.WindowLevel(400, 40)
    assert wl.WindowLevel(400, 40).low == -160 and wl.WindowLevel(400, 40).high == 240


def test_full_range_follows_the_data_not_its_outliers() -> None:
    data = np.full((20, 20, 20), -1000, np.int16)
    data[5:15, 5:15, 5:15] = 1500
    data[0, 0, 0] = 30000  # one corrupt voxel must not flatten the display
    window = wl.preset_window(wl.FULL_RANGE, data)
    assert window.low == pytest.approx(-1000, abs=1) and window.high == pytest.approx(1500, abs=1)


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(KeyError):
        wl.preset_window("Lung (not here)")


def test_dragging_right_widens_and_dragging_up_brightens() -> None:
    start = wl.WindowLevel(400, 40)
    assert wl.drag_window(start, 10, 0, 4).width == 440
    assert wl.drag_window(start, 0, -10, 4).level == 0  # up: lower level, brighter image
    assert wl.drag_window(start, -10_000, 0, 4).width == wl.MIN_WIDTH


def test_histogram_covers_the_data_range_from_a_sample() -> None:
    data = np.random.default_rng(1).normal(0, 300, (64, 64, 64)).astype(np.int16)
    counts, edges = wl.histogram(data, bins=64)
    assert counts.shape == (64,) and edges.shape == (65,)
    assert counts.sum() > 0.9 * (32**3)  # a strided sample of about a quarter million voxels
    assert edges[0] < -500 and edges[-1] > 500
