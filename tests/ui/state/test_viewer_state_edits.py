"""While painting, only the views whose slice crosses the edit redraw the result."""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.state.display_geometry import AXIAL, CORONAL, SAGITTAL
from kneeseg_app.ui.state.viewer_state import ViewerState


def test_a_view_shows_an_edit_only_when_its_slice_crosses_the_changed_box(qtbot) -> None:
    state = ViewerState()
    direction = np.diag([-1.0, 1.0, 1.0])  # x runs to the patient's right: display L is flipped
    state.set_volume(Volume(np.zeros((10, 20, 30), np.int16), (2.0, 1.0, 1.0), direction=direction))
    state.set_cursor((4, 5, 6))  # display (S, P, L)
    array_cursor = state.geometry.to_array_index(state.cursor)
    axial_edit = (slice(array_cursor[0], array_cursor[0] + 1), slice(0, 3), slice(0, 3))
    assert state.shows(AXIAL, axial_edit)
    assert not state.shows(CORONAL, axial_edit)  # rows 0..2, the coronal view shows row 5
    assert not state.shows(SAGITTAL, axial_edit)
    crossing = (slice(0, 10), slice(5, 6), slice(array_cursor[2], array_cursor[2] + 1))
    assert state.shows(CORONAL, crossing) and state.shows(SAGITTAL, crossing)
    assert state.shows(AXIAL, None)
    boxes: list = []
    state.labelsEdited.connect(boxes.append)
    state.labels_edited(axial_edit)
    assert boxes == [axial_edit]
