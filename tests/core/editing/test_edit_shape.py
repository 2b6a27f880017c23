"""Smoothing (labels stay exclusive) and interpolation between two drawn slices."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.editing import BrushShape, LabelEditor
from kneeseg_app.core.errors import EditError

SPACING = (2.0, 0.5, 0.5)


def disk(shape: tuple[int, int], centre: tuple[float, float], radius_mm: float) -> np.ndarray:
    rows, cols = np.indices(shape)
    return ((rows - centre[0]) * SPACING[1]) ** 2 + ((cols - centre[1]) * SPACING[2]) ** 2 <= radius_mm**2


def test_smoothing_removes_spurs_and_fills_notches_and_keeps_labels_exclusive() -> None:
    model = np.zeros((8, 60, 60), dtype=np.uint8)
    model[1:7, 10:50, 5:29] = 1
    model[1:7, 10:50, 30:55] = 2
    model[3, 30, 55:58] = 2  # a one-voxel spur
    model[1:7, 25, 12] = 0  # a one-voxel notch through the femur
    ed = LabelEditor(model, SPACING)
    assert ed.smooth(1.0) > 0
    labels = ed.labels
    assert not labels[3, 30, 56:58].any()
    assert (labels[2:6, 25, 12] == 1).all()
    assert set(np.unique(labels)) == {0, 1, 2}
    # the gap between the bones is kept: smoothing never merges two bones
    assert set(np.unique(labels[2:6, 15:45, 29])) == {0}
    # bodies stay where they were
    assert (labels[2:6, 15:45, 10:25] == 1).all() and (labels[2:6, 15:45, 35:50] == 2).all()


def test_smoothing_one_label_never_takes_the_other_bone() -> None:
    model = np.zeros((6, 40, 40), dtype=np.uint8)
    model[1:5, 5:35, 5:20] = 1
    model[1:5, 5:35, 20:35] = 2
    model[1:5, 20, 20:22] = 1  # femur pokes into tibia
    ed = LabelEditor(model, SPACING)
    ed.smooth(1.0, value=1)
    changed = ed.labels != model
    assert (model[changed & (ed.labels == 1)] == 0).all()
    assert not (ed.labels[1:5, 20, 20:22] == 1).any()


def test_2d_smoothing_changes_only_the_chosen_slice() -> None:
    rng = np.random.default_rng(3)
    model = (rng.random((5, 30, 30)) > 0.5).astype(np.uint8)
    ed = LabelEditor(model, SPACING)
    assert ed.smooth(0.8, plane=(0, 2)) > 0
    changed_slices = set(np.nonzero(ed.labels != model)[0])
    assert changed_slices == {2}


def test_interpolation_of_the_same_shape_repeats_it_exactly() -> None:
    model = np.zeros((10, 40, 40), dtype=np.uint8)
    shape = disk((40, 40), (20, 18), 6.0)
    model[1][shape] = 1
    model[8][shape] = 1
    ed = LabelEditor(model, SPACING)
    assert ed.interpolate(1, axis=0, slices=(1, 8)) == 6 * int(shape.sum())
    for k in range(1, 9):
        np.testing.assert_array_equal(ed.labels[k] == 1, shape)
    assert not ed.labels[0].any() and not ed.labels[9].any()


def test_interpolation_between_a_small_and_a_large_disk_grows_steadily() -> None:
    model = np.zeros((7, 60, 60), dtype=np.uint8)
    model[0][disk((60, 60), (30, 30), 4.0)] = 2
    model[6][disk((60, 60), (30, 30), 10.0)] = 2
    ed = LabelEditor(model, SPACING)
    ed.interpolate(2, axis=0, slices=(0, 6))
    areas = [int(np.count_nonzero(ed.labels[k] == 2)) for k in range(7)]
    assert areas == sorted(areas) and len(set(areas)) == 7
    middle_radius = np.sqrt(areas[3] * SPACING[1] * SPACING[2] / np.pi)
    assert middle_radius == pytest.approx(7.0, abs=0.5)


def test_interpolation_fills_a_missing_slice_along_another_axis_and_spares_the_other_bone() -> None:
    model = np.zeros((30, 30, 12), dtype=np.uint8)
    model[5:25, 5:25, 2] = 1
    model[5:25, 5:25, 6] = 1
    model[5:25, 5:25, 4] = 3  # another label sits between
    spacing = (0.5, 0.5, 2.0)
    ed = LabelEditor(model, spacing)
    ed.interpolate(1, axis=2, slices=(2, 6))
    assert (ed.labels[5:25, 5:25, 3] == 1).all() and (ed.labels[5:25, 5:25, 5] == 1).all()
    assert (ed.labels[5:25, 5:25, 4] == 3).all()


def test_interpolation_uses_the_last_two_slices_painted() -> None:
    ed = LabelEditor(np.zeros((12, 40, 40), dtype=np.uint8), SPACING)
    for z in (2, 9):
        ed.begin_stroke(BrushShape(5.0, axis=0), 1).add((z, 20, 20))
        ed.finish_stroke()
    assert ed.last_edited_slices(0, 1) == (2, 9)
    assert ed.interpolate(1, axis=0) > 0
    assert all(np.count_nonzero(ed.labels[k]) == np.count_nonzero(ed.labels[2]) for k in range(2, 10))
    assert ed.undo() and not ed.labels[5].any()


def test_interpolation_explains_what_is_missing() -> None:
    ed = LabelEditor(np.zeros((12, 40, 40), dtype=np.uint8), SPACING)
    with pytest.raises(EditError, match="two slices"):
        ed.interpolate(1, axis=0)
    ed.begin_stroke(BrushShape(5.0, axis=0), 1).add((2, 20, 20))
    with pytest.raises(EditError, match="Slice 8 holds none"):
        ed.interpolate(1, axis=0, slices=(2, 8))
    with pytest.raises(EditError, match="at least one slice between"):
        ed.interpolate(1, axis=0, slices=(2, 3))
