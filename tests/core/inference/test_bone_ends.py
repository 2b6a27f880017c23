"""Each piece of a bone is looked at alone, in a box at one of its ends along the body axis."""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.inference.bone_ends import (
    end_box,
    labelled_length_mm,
    labelled_slices,
    length_mm,
    trim_each_piece,
)
from kneeseg_app.core.volume import Volume

SPACING = (3.0, 1.0, 1.0)


def test_the_end_box_reaches_so_far_from_the_chosen_end_and_widens_in_plane_within_the_scan() -> None:
    found = (slice(10, 110), slice(20, 40), slice(0, 30))
    top = end_box(found, (120, 60, 60), SPACING, axis=0, toward_index_end=True, reach_mm=30.0, margin_mm=5.0)
    assert top == (slice(100, 110), slice(15, 45), slice(0, 35))
    bottom = end_box(found, (120, 60, 60), SPACING, axis=0, toward_index_end=False, reach_mm=30.0)
    assert bottom == (slice(10, 20), slice(20, 40), slice(0, 30))
    assert length_mm(found, SPACING, 0) == 300.0


def test_each_piece_is_trimmed_alone_in_its_own_box() -> None:
    labels = np.zeros((20, 10, 30), dtype=np.uint8)
    labels[2:18, 3:7, 2:8] = 1  # a long piece
    labels[2:6, 3:7, 20:26] = 1  # a short one
    seen: list[int] = []

    def region(found):
        return None if length_mm(found, SPACING, 0) < 30.0 else found

    def drop(mine, box):
        seen.append(int(mine.sum()))
        out = np.zeros_like(mine)
        out[-1] = mine[-1]  # the piece's top slice
        return out

    removed = trim_each_piece(labels, Volume(np.zeros(labels.shape, dtype=np.int16), SPACING), 1, region, drop)
    assert seen == [16 * 4 * 6]
    assert removed == 4 * 6
    assert not labels[17].any() and labels[16, 3:7, 2:8].all() and labels[2:6, 3:7, 20:26].all()


def test_the_labelled_length_is_the_whole_bones_reach_along_the_axis_and_no_piece_is_longer() -> None:
    """A trim is skipped when the bone's labels together are too short: that must bound every piece."""
    labels = np.zeros((20, 10, 30), dtype=np.uint8)
    labels[2:9, 3:7, 2:8] = 1
    labels[12:15, 3:7, 20:26] = 1  # a second piece, higher up: the two together reach slices 2-14
    assert labelled_length_mm(labels, 1, SPACING, 0) == 13 * 3.0
    assert labelled_length_mm(labels, 1, SPACING, 2) == 24 * 1.0
    assert labelled_length_mm(labels, 2, SPACING, 0) == 0.0
    lengths: list[float] = []
    trim_each_piece(
        labels,
        Volume(np.zeros(labels.shape, dtype=np.int16), SPACING),
        1,
        lambda found: lengths.append(length_mm(found, SPACING, 0)),
        lambda m, b: None,
    )
    assert max(lengths) <= labelled_length_mm(labels, 1, SPACING, 0)


def test_labelled_slices_are_those_holding_the_bone_along_the_axis_asked() -> None:
    labels = np.zeros((6, 4, 5), dtype=np.uint8)
    labels[1, 0, 2] = labels[4, 3, 2] = 1
    labels[2, 1, 4] = 2
    assert labelled_slices(labels, 1).tolist() == [1, 4]
    assert labelled_slices(labels, 1, axis=1).tolist() == [0, 3]
    assert labelled_slices(labels, 2, axis=2).tolist() == [4]
    assert labelled_slices(labels, 3).size == 0
