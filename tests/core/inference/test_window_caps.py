"""Bone windows cannot run away: a false positive beside the patient neither makes a window nor
widens one, windows never reach beyond the body, and a case whose windows would cover most of
the image runs the plain path instead."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from kneeseg_app.core.inference.fast.roi import (
    body_grid,
    body_mask_2d,
    bone_box,
    first_pass,
    touches_inner_edge,
)
from kneeseg_app.core.model.package import ModelPackage, load_model_package

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from onnx_factory import write_model_package  # noqa: E402
from test_engine_speed import counting, dice, knee, segment  # noqa: E402


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> ModelPackage:
    """The 2D threshold network with a 64 x 64 patch (several tiles per slice)."""
    folder = tmp_path_factory.mktemp("caps") / "m"
    return load_model_package(write_model_package(folder, patch_size=(64, 64), target_spacing=(1.0, 1.0)))


def _with_table_blob(shape=(30, 160, 200)) -> object:
    """The test knee plus a dense (600 HU, 'femur' to the threshold network) slab lying in the
    table, larger than the bones: the first pass used to open a window over it on every slice."""
    volume = knee(shape)
    table_row = int(shape[1] * 0.85)
    volume.array[:, table_row + 1 : table_row + 12, 10:-10] = 600
    return volume


def test_a_dense_object_on_the_table_does_not_grow_the_tile_count(package, monkeypatch) -> None:
    calls = counting(monkeypatch)
    clean = segment(package, knee(), roi="bones", skip_empty_slices=True)
    n_clean, calls["images"] = calls["images"], 0
    with_blob = segment(package, _with_table_blob(), roi="bones", skip_empty_slices=True)
    assert calls["images"] <= 1.1 * n_clean
    for value in (1, 2):
        assert dice(with_blob, clean, value) >= 0.999


def test_windows_that_would_cover_most_of_the_image_fall_back_to_the_plain_path(package, monkeypatch) -> None:
    """A leg filling the field of view: the bone windows would be nearly the whole body, so every
    slice runs once over the body (never a window and then the body again)."""
    volume = knee()
    volume.array[:, 10:130, 10:190][volume.array[:, 10:130, 10:190] < 0] = 40  # soft tissue everywhere
    volume.array[:, 20:120, 20:180] = 1400  # and bone nearly everywhere
    calls = counting(monkeypatch)
    segment(package, volume, exact=True)
    n_exact, calls["images"] = calls["images"], 0
    segment(package, volume, roi="bones", skip_empty_slices=True)
    assert calls["images"] <= n_exact


def test_the_first_pass_ignores_dense_things_outside_the_body() -> None:
    plane = np.full((200, 200), -1000.0, dtype=np.float32)
    yy, xx = np.mgrid[:200, :200]
    plane[np.hypot(yy - 80, xx - 100) < 50] = 40.0  # the leg
    plane[np.hypot(yy - 80, xx - 100) < 15] = 1200.0  # its bone
    plane[150:170, 20:180] = 900.0  # a dense block on the table, apart from the leg
    step, opening = body_grid((1.0, 1.0))
    body = body_mask_2d(plane, step, opening)
    fine = np.repeat(np.repeat(body, step, 0), step, 1)[::2, ::2][:100, :100]
    box = bone_box(plane, 250.0, 2, fine)
    assert box is not None and box[1] < 110  # the bone only
    assert bone_box(plane, 250.0, 2)[1] >= 168  # without the body outline the block counted
    bones, bodies = first_pass(plane[None], (1.0, 1.0), 250.0)
    assert bones[0] == box and bodies[0][1] < 140


@pytest.mark.parametrize(("hu", "expected"), [(-1000, False), (40, False), (600, True)])
def test_only_labels_on_dense_pixels_at_a_window_edge_widen_it(hu: float, expected: bool) -> None:
    labels = np.zeros((2, 20, 20), dtype=np.uint8)
    labels[:, 5:10, 0] = 1  # on the window's left edge, which is inside the image
    ct = np.full(labels.shape, hu, dtype=np.float32)
    assert touches_inner_edge(labels, (10, 30, 10, 30), (100, 100), ct) is expected
    assert touches_inner_edge(labels, (10, 30, 10, 30), (100, 100)) is True  # without the CT: any label
    assert touches_inner_edge(labels, (10, 30, 0, 20), (100, 100), ct) is False  # the image's own edge


def test_a_scan_of_nothing_but_air_runs_no_tile(package, monkeypatch) -> None:
    volume = knee()
    volume.array[...] = -1000
    calls = counting(monkeypatch)
    labels = segment(package, volume, roi="bones", skip_empty_slices=True)
    assert calls["images"] == 0 and not labels.any()
