"""Label overlays: one colour per bone, filled or outlined, hideable per label."""

from __future__ import annotations

import numpy as np

from kneeseg_app.ui.state.overlay import RESULT_COLORS, OverlayStyle, outline, overlay_rgba


def _square() -> np.ndarray:
    labels = np.zeros((10, 10), np.uint8)
    labels[2:8, 2:8] = 1
    labels[4:6, 8:10] = 2
    return labels


def test_filled_overlay_paints_each_bone_in_its_colour_with_the_chosen_opacity() -> None:
    rgba = overlay_rgba(_square(), OverlayStyle(RESULT_COLORS, opacity=0.5))
    assert tuple(rgba[3, 3, :3]) == RESULT_COLORS[1] and rgba[3, 3, 3] == 128
    assert tuple(rgba[4, 9, :3]) == RESULT_COLORS[2]
    assert rgba[0, 0, 3] == 0  # background stays transparent


def test_outline_keeps_only_the_boundary_of_each_region() -> None:
    edges = outline(_square())
    assert edges[2, 2] == 1 and edges[7, 5] == 1
    assert edges[4, 4] == 0  # inside
    assert edges[4, 9] == 2  # a region touching the image border is closed by it


def test_a_hidden_label_is_transparent() -> None:
    rgba = overlay_rgba(_square(), OverlayStyle(RESULT_COLORS, opacity=1.0, hidden={1}))
    assert rgba[3, 3, 3] == 0 and rgba[4, 9, 3] == 255
