"""The linked-viewer state, without any widget: cursor, slices, window, overlays, readout."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.state.display_geometry import AXIAL, CORONAL
from kneeseg_app.ui.state.overlay import RESULT_COLORS
from kneeseg_app.ui.state.viewer_state import ViewerState


@pytest.fixture
def ct() -> Volume:
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    # stored with rows running anterior (as some NIfTI writers do): y axis flipped
    return Volume(array, (3.0, 1.0, 1.0), (0.0, 4.0, 0.0), np.diag([1.0, -1.0, 1.0]))


def test_a_new_volume_centres_the_cursor_and_announces_it(qtbot, ct) -> None:
    state = ViewerState()
    with qtbot.waitSignal(state.cursorChanged) as blocker:
        state.set_volume(ct)
    assert blocker.args == [(2, 2, 3)]
    assert state.geometry.flip == (False, True, False)


def test_scrolling_moves_one_view_and_stays_inside_the_volume(ct) -> None:
    state = ViewerState()
    state.set_volume(ct)
    state.move_slice(AXIAL, 1)
    assert state.cursor == (3, 2, 3)
    state.move_slice(AXIAL, 50)
    assert state.cursor[0] == 3
    state.set_slice(CORONAL, -4)
    assert state.cursor == (3, 0, 3)


def test_slices_are_shown_in_display_order(ct) -> None:
    state = ViewerState()
    state.set_volume(ct)
    state.set_cursor((1, 0, 0))
    axial = state.ct_slice(AXIAL)
    # display row 0 is the most anterior row, i.e. the last array row of this volume
    assert np.array_equal(axial, ct.array[1, ::-1, :])


def test_the_readout_gives_voxel_lps_position_hu_and_labels(ct) -> None:
    state = ViewerState()
    state.set_volume(ct)
    labels = np.zeros(ct.shape, np.uint8)
    labels[1, 4, 2] = 2
    state.set_labels(ct.with_array(labels), {0: "background", 1: "femur", 2: "tibia"})
    display = state.geometry.to_display_index((1, 4, 2))
    text = state.readout(display)
    lps = ct.index_to_lps(np.array([1, 4, 2], dtype=float))
    assert "voxel (i, j, k) = (2, 4, 1)" in text
    assert f"LPS = ({lps[0]:.1f}, {lps[1]:.1f}, {lps[2]:.1f}) mm" in text
    assert f"{int(ct.array[1, 4, 2])} HU" in text
    assert "result: tibia" in text
    assert state.readout((9, 9, 9)) == ""


def test_a_label_map_on_another_grid_is_refused(ct) -> None:
    state = ViewerState()
    state.set_volume(ct)
    with pytest.raises(ValueError):
        state.set_labels(Volume(np.zeros((2, 2, 2), np.uint8), (1, 1, 1)))


def test_overlay_settings_change_the_drawn_overlay(qtbot, ct) -> None:
    state = ViewerState()
    state.set_volume(ct)
    labels = np.ones(ct.shape, np.uint8)
    state.set_labels(ct.with_array(labels))
    rgba = state.result_rgba(AXIAL)
    assert tuple(rgba[2, 2, :3]) == RESULT_COLORS[1]
    with qtbot.waitSignal(state.overlayChanged):
        state.set_opacity(0.2)
    assert state.result_rgba(AXIAL)[2, 2, 3] == 51
    state.set_label_visible(1, False)
    assert state.result_rgba(AXIAL)[..., 3].max() == 0
    state.set_show(result=False)
    assert state.result_rgba(AXIAL) is None


def test_a_preset_stays_named_until_the_window_is_dragged(ct) -> None:
    state = ViewerState()
    state.set_volume(ct)
    state.apply_preset("Soft tissue")
    assert state.preset == "Soft tissue" and state.window.width == 400
    state.set_window(state.window.__class__(300, 10))
    assert state.preset is None
