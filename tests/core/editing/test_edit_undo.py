"""Undo / redo: exact round trips, the step limit, compact diffs, revert, the change flag, listeners."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.editing import BrushShape, EditEvent, LabelEditor
from kneeseg_app.core.editing.diff import diff_between, make_diff

SPACING = (2.0, 0.7, 0.7)


def model_labels() -> np.ndarray:
    labels = np.zeros((16, 64, 64), dtype=np.uint8)
    labels[2:14, 10:30, 10:50] = 1
    labels[2:14, 34:54, 10:50] = 2
    return labels


def random_step(ed: LabelEditor, rng: np.random.Generator) -> None:
    """One of the editor's actions, chosen at random (strokes in all views, fills, islands...)."""
    kind = int(rng.integers(0, 5))
    point = (int(rng.integers(0, 16)), int(rng.integers(0, 64)), int(rng.integers(0, 64)))
    if kind <= 1:
        axis = [0, 1, 2, None][int(rng.integers(0, 4))]
        stroke = ed.begin_stroke(BrushShape(float(rng.uniform(0.5, 4.0)), axis=axis), int(rng.integers(0, 3)))
        for _ in range(int(rng.integers(1, 4))):
            stroke.add(tuple(float(c + rng.uniform(-5, 5)) for c in point))  # type: ignore[arg-type]
        ed.finish_stroke()
    elif kind == 2:
        ed.fill(point, int(rng.integers(0, 3)), axis=int(rng.integers(0, 3)))
    elif kind == 3 and ed.labels[point] != 0:
        ed.remove_island(point)
    else:
        ed.smooth(1.0, plane=(0, point[0]))


def test_undo_and_redo_over_60_steps_give_back_every_state_exactly() -> None:
    rng = np.random.default_rng(7)
    ed = LabelEditor(model_labels(), SPACING, max_undo=60)
    states = [ed.labels.copy()]
    while len(states) < 61:
        before = ed.history.undo_count
        random_step(ed, rng)
        if ed.history.undo_count > before:
            states.append(ed.labels.copy())
    assert ed.history.undo_count == 60
    for expected in reversed(states[:-1]):
        assert ed.undo()
        np.testing.assert_array_equal(ed.labels, expected)
    assert not ed.undo() and not ed.changed_since_model
    for expected in states[1:]:
        assert ed.redo()
        np.testing.assert_array_equal(ed.labels, expected)
    assert not ed.redo()


def test_the_history_keeps_the_last_50_steps() -> None:
    ed = LabelEditor(model_labels(), SPACING)
    states = []
    for i in range(55):
        ed.begin_stroke(BrushShape(0.7, axis=0), 3).add((i % 16, 58, i + 4))
        ed.finish_stroke()
        states.append(ed.labels.copy())
    assert ed.history.undo_count == 50
    for _ in range(50):
        assert ed.undo()
    assert not ed.can_undo and not ed.undo()
    np.testing.assert_array_equal(ed.labels, states[4])  # the 5 oldest steps are no longer undoable


def test_a_new_edit_after_undo_clears_redo() -> None:
    ed = LabelEditor(model_labels(), SPACING)
    ed.begin_stroke(BrushShape(2.0, axis=0), 3).add((8, 60, 30))
    ed.undo()
    assert ed.can_redo
    ed.begin_stroke(BrushShape(2.0, axis=0), 3).add((8, 60, 10))
    ed.finish_stroke()
    assert not ed.can_redo


def test_revert_to_model_result_is_exact_and_undoable() -> None:
    model = model_labels()
    ed = LabelEditor(model, SPACING)
    ed.begin_stroke(BrushShape(3.0, axis=None), 0).add((8, 20, 30))
    ed.fill((8, 60, 2), 2, axis=0)
    edited = ed.labels.copy()
    assert ed.changed_since_model
    assert ed.revert_to_model() == np.count_nonzero(edited != model)
    np.testing.assert_array_equal(ed.labels, model)
    assert not ed.changed_since_model
    assert ed.undo()
    np.testing.assert_array_equal(ed.labels, edited)
    assert ed.changed_since_model
    assert ed.revert_to_model() > 0 and ed.revert_to_model() == 0


def test_the_model_result_is_never_changed() -> None:
    model = model_labels()
    ed = LabelEditor(model, SPACING)
    ed.begin_stroke(BrushShape(3.0, axis=0), 0).add((8, 20, 30))
    np.testing.assert_array_equal(ed.model, model_labels())
    with pytest.raises(ValueError):
        ed.model[0, 0, 0] = 5
    with pytest.raises(ValueError):
        ed.labels[0, 0, 0] = 5


def test_the_change_flag_follows_edits_that_cancel_out() -> None:
    ed = LabelEditor(model_labels(), SPACING)
    ed.begin_stroke(BrushShape(2.0, axis=0), 0).add((8, 20, 30))
    ed.finish_stroke()
    assert ed.changed_since_model and ed.voxels_changed_since_model > 0
    ed.begin_stroke(BrushShape(2.0, axis=0), 1).add((8, 20, 30))
    ed.finish_stroke()
    assert not ed.changed_since_model  # painted back exactly what was erased


def test_listeners_get_a_growing_version_and_the_changed_box() -> None:
    ed = LabelEditor(model_labels(), SPACING)
    events: list[EditEvent] = []
    ed.subscribe(events.append)
    stroke = ed.begin_stroke(BrushShape(1.4, axis=0), 3)
    stroke.add((5, 60, 30))
    ed.finish_stroke()
    ed.undo()
    ed.redo()
    assert [e.kind for e in events] == ["stroke", "edit", "undo", "redo"]
    assert [e.version for e in events] == [1, 2, 3, 4] and ed.version == 4
    box = events[1].box
    assert box == (slice(5, 6), slice(58, 63), slice(28, 33))
    ed.unsubscribe(events.append)
    ed.undo()
    assert len(events) == 4


def test_a_thin_stroke_is_stored_as_indices_and_a_blob_as_a_bit_mask() -> None:
    shape = (100, 100, 100)
    diagonal = np.ravel_multi_index((np.arange(100),) * 3, shape)  # 100 voxels spread over the whole box
    thin = make_diff(shape, diagonal, np.zeros(100, np.uint8), np.uint8(1))
    assert thin is not None and thin.indices is not None and thin.bits is None
    assert thin.nbytes == 100 * 4 + 2  # indices + one old and one new value
    blob = np.zeros(shape, dtype=np.uint8)
    blob[10:60, 10:60, 10:60] = 2
    dense = diff_between(blob, np.zeros_like(blob))
    assert dense is not None and dense.bits is not None and dense.indices is None
    assert dense.nbytes == 50**3 // 8 + 2
    restored = np.zeros_like(blob)
    dense.apply(restored, forward=False)
    np.testing.assert_array_equal(restored, blob)


def test_mixed_old_values_are_kept_per_voxel() -> None:
    before = np.zeros((4, 4, 4), dtype=np.uint8)
    before[1, 1, 1:3] = (1, 2)
    diff = diff_between(before, np.zeros_like(before))
    assert diff is not None and diff.old.tolist() == [1, 2] and diff.new.tolist() == [0]


def test_label_counts_and_volumes_follow_every_edit_without_a_rescan() -> None:
    rng = np.random.default_rng(5)
    ed = LabelEditor(model_labels(), SPACING)
    for _ in range(25):
        random_step(ed, rng)
        expected = np.bincount(ed.labels.ravel())
        assert ed.label_counts() == {v: int(n) for v, n in enumerate(expected) if n}
    ed.undo()
    ed.revert_to_model()
    assert ed.label_counts()[1] == 12 * 20 * 40
    voxel_ml = 2.0 * 0.7 * 0.7 / 1000
    assert ed.volumes_ml({1: "femur", 2: "tibia", 3: "patella"}) == pytest.approx(
        {"femur": 9600 * voxel_ml, "tibia": 9600 * voxel_ml, "patella": 0.0}
    )


def test_replacing_the_labels_restores_saved_edits_as_one_undoable_step() -> None:
    model = model_labels()
    saved = model.copy()
    saved[5, 5:9, 5:9] = 3
    saved[2:14, 10:30, 10:12] = 0
    ed = LabelEditor(model, SPACING)
    assert ed.replace_labels(saved, "Restore session") == np.count_nonzero(saved != model)
    np.testing.assert_array_equal(ed.labels, saved)
    assert ed.history.undo_name == "Restore session" and ed.changed_since_model
    ed.undo()
    np.testing.assert_array_equal(ed.labels, model)
    with pytest.raises(ValueError):
        ed.replace_labels(saved[:3])
