"""Fill, islands, holes: exactly the region meant, never the other bone, one undo step each."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.editing import LabelEditor, PaintScope
from kneeseg_app.core.errors import EditError

SPACING = (1.5, 0.8, 0.8)


def test_a_2d_fill_takes_the_enclosed_background_region_of_the_clicked_slice_only() -> None:
    model = np.zeros((6, 30, 30), dtype=np.uint8)
    model[:, 5:25, 5:25] = 1
    model[:, 8:22, 8:22] = 0  # a ring: the hole is background
    ed = LabelEditor(model, SPACING)
    assert ed.fill((3, 15, 15), 1, axis=0) == 14 * 14
    assert (ed.labels[3, 5:25, 5:25] == 1).all()
    assert (ed.labels[2] == model[2]).all() and (ed.labels[4] == model[4]).all()
    assert (ed.labels[3, :5] == 0).all()  # the outside is another background region
    assert ed.history.undo_count == 1


def test_a_fill_is_4_connected_in_the_slice() -> None:
    model = np.zeros((1, 5, 5), dtype=np.uint8)
    model[0, 2, :] = 1
    model[0, :, 2] = 1
    ed = LabelEditor(model, SPACING)
    ed.fill((0, 0, 0), 2, axis=0)
    assert np.count_nonzero(ed.labels == 2) == 4  # one quadrant; diagonals do not leak


def test_a_fill_limited_to_an_hu_range_stops_at_soft_tissue() -> None:
    ct = np.zeros((4, 20, 20), dtype=np.int16)
    ct[:, :, 10:] = 800
    ed = LabelEditor(np.zeros((4, 20, 20), dtype=np.uint8), SPACING, ct=ct)
    assert ed.fill((1, 5, 15), 2, axis=0, scope=PaintScope(hu_range=(200, 3000))) == 20 * 10
    assert (ed.labels[1, :, 10:] == 2).all() and not ed.labels[1, :, :10].any()
    assert ed.fill((1, 5, 5), 2, axis=0, scope=PaintScope(hu_range=(200, 3000))) == 0  # clicked outside the range


def test_a_3d_fill_takes_the_whole_connected_region() -> None:
    model = np.zeros((6, 10, 10), dtype=np.uint8)
    model[:, 5, :] = 1
    ed = LabelEditor(model, SPACING)
    assert ed.fill((0, 0, 0), 2, axis=None) == 6 * 5 * 10


def islands_model() -> np.ndarray:
    model = np.zeros((20, 40, 40), dtype=np.uint8)
    model[2:18, 5:25, 5:25] = 1  # the femur
    model[8:10, 30:33, 30:33] = 1  # a loose fragment labelled femur
    model[2:18, 5:25, 28:29] = 2  # the tibia nearby
    return model


def test_removing_an_island_removes_exactly_the_clicked_piece() -> None:
    model = islands_model()
    ed = LabelEditor(model, SPACING)
    assert ed.remove_island((9, 31, 31)) == 2 * 3 * 3
    assert not ed.labels[8:10, 30:33, 30:33].any()
    assert np.count_nonzero(ed.labels != model) == 18


def test_keeping_an_island_removes_the_bones_other_pieces_only() -> None:
    model = islands_model()
    ed = LabelEditor(model, SPACING)
    assert ed.keep_island((10, 10, 10)) == 18
    assert (ed.labels[model == 2] == 2).all()  # the other bone is untouched
    assert np.count_nonzero(ed.labels == 1) == 16 * 20 * 20


def test_keep_largest_island_matches_keeping_the_main_piece() -> None:
    ed = LabelEditor(islands_model(), SPACING)
    assert ed.keep_largest_island(1) == 18
    assert ed.keep_largest_island(7) == 0


def test_islands_touching_diagonally_are_one_piece_as_in_post_processing() -> None:
    model = np.zeros((5, 5, 5), dtype=np.uint8)
    model[1, 1, 1] = model[2, 2, 2] = 1
    ed = LabelEditor(model, SPACING)
    assert ed.remove_island((1, 1, 1)) == 2


def test_clicking_background_for_an_island_says_what_to_do() -> None:
    ed = LabelEditor(islands_model(), SPACING)
    with pytest.raises(EditError, match="Click on a bone"):
        ed.remove_island((0, 0, 0))
    with pytest.raises(EditError, match="outside the image"):
        ed.keep_island((0, 0, 99))


def test_fill_holes_in_3d_fills_enclosed_cavities_but_not_the_other_bone() -> None:
    model = np.zeros((12, 20, 20), dtype=np.uint8)
    model[2:10, 3:17, 3:17] = 1
    model[4:8, 6:10, 6:10] = 0  # closed cavity: 4*4*4
    model[4:8, 11:14, 11:14] = 2  # the other bone inside the cavity region stays
    model[4:8, 11:14, 11:14] = 0
    model[5:7, 12:13, 12:13] = 2
    ed = LabelEditor(model, SPACING)
    filled = ed.fill_holes(1)
    assert filled == 64 + (4 * 3 * 3 - 2)
    assert (ed.labels[5:7, 12, 12] == 2).all()


def test_fill_holes_per_slice_closes_a_canal_open_at_both_ends() -> None:
    model = np.zeros((10, 20, 20), dtype=np.uint8)
    model[:, 4:16, 4:16] = 1
    model[:, 8:12, 8:12] = 0  # a marrow canal through the whole bone: not a hole in 3D
    ed = LabelEditor(model, SPACING)
    assert ed.fill_holes(1) == 0
    assert ed.fill_holes(1, axis=0, slice_index=3) == 16
    assert ed.fill_holes(1, axis=0) == 9 * 16
    assert (ed.labels[:, 4:16, 4:16] == 1).all()


def test_a_piece_reaching_far_from_the_click_is_found_whole() -> None:
    model = np.zeros((40, 200, 200), dtype=np.uint8)
    model[20, 100, 3:200] = 1  # a long bar to the image's edge, far beyond the first search box
    model[5:35, 100, 150] = 1  # crossing it at x = 150 and running along z
    model[20, 100:199, 60] = 1  # and a branch along y
    model[2, 2, 2] = 1  # another piece of the same bone
    ed = LabelEditor(model, SPACING)
    assert ed.remove_island((20, 100, 10)) == np.count_nonzero(model) - 1
    assert ed.labels[2, 2, 2] == 1 and np.count_nonzero(ed.labels) == 1
    ed.undo()
    assert ed.keep_island((20, 100, 10)) == 1
