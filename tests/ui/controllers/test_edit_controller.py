"""The edit controller maps view gestures to array edits, whatever the scan's orientation."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.editing import LabelEditor
from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.controllers.editing import EditController, EditTool, display_to_array_point
from kneeseg_app.ui.state.display_geometry import AXIAL, CORONAL, SAGITTAL
from kneeseg_app.ui.state.viewer_state import ViewerState

SPACING = (2.0, 0.5, 0.8)


def setup(qtbot, direction=np.eye(3)) -> tuple[ViewerState, EditController, LabelEditor]:
    state = ViewerState()
    ct = np.zeros((10, 30, 40), dtype=np.int16)
    state.set_volume(Volume(ct, SPACING, direction=direction))
    editor = LabelEditor(np.zeros(ct.shape, np.uint8), SPACING, ct=ct)
    controller = EditController(state)
    controller.attach(editor)
    return state, controller, editor


@pytest.mark.parametrize("direction", [np.eye(3), np.diag([-1.0, 1.0, -1.0])])
def test_a_display_position_maps_to_the_voxel_drawn_there(qtbot, direction) -> None:
    state, _, _ = setup(qtbot, direction)
    geometry = state.geometry
    for display in [(0, 0, 0), (3, 7, 11), (9, 29, 39)]:
        expected = geometry.to_array_index(display)
        assert display_to_array_point(geometry, tuple(float(v) for v in display)) == expected


def test_with_no_tool_the_views_keep_the_crosshair(qtbot) -> None:
    _, controller, editor = setup(qtbot)
    assert not controller.active
    controller.pointer_press(AXIAL, (5.0, 15.0, 20.0))
    assert not editor.labels.any()
    controller.set_tool(EditTool.BRUSH)
    assert controller.active


def test_a_drag_in_each_view_paints_in_that_views_plane(qtbot) -> None:
    state, controller, editor = setup(qtbot)
    controller.update(tool=EditTool.BRUSH, radius_mm=1.0, active_label=2)
    for view, start, end in (
        (AXIAL, (4.0, 10.0, 10.0), (4.0, 10.0, 20.0)),
        (CORONAL, (2.0, 25.0, 5.0), (7.0, 25.0, 5.0)),
        (SAGITTAL, (2.0, 3.0, 35.0), (2.0, 9.0, 35.0)),
    ):
        before = editor.labels.copy()
        controller.pointer_press(view, start)
        controller.pointer_move(view, end)
        controller.pointer_release(view)
        axis = controller.array_axis(view)
        painted = np.argwhere(editor.labels != before)
        assert len(painted) > 3
        assert set(painted[:, axis]) == {int(start[view.slice_axis])}  # identity direction: display = array
        assert np.ptp(painted[:, [a for a in range(3) if a != axis]], axis=0).max() > 3  # a band, not a dot
    assert editor.history.undo_count == 3


def test_a_click_with_the_fill_tool_fills_and_an_error_becomes_a_message(qtbot) -> None:
    _, controller, editor = setup(qtbot)
    messages: list[str] = []
    controller.message.connect(messages.append)
    controller.update(tool=EditTool.FILL, active_label=1)
    controller.pointer_press(AXIAL, (3.0, 5.0, 5.0))
    assert np.count_nonzero(editor.labels[3] == 1) == 30 * 40 and not editor.labels[2].any()
    controller.set_tool(EditTool.REMOVE_ISLAND)
    controller.pointer_press(AXIAL, (5.0, 5.0, 5.0))  # background: no bone to pick
    assert messages and "Click on a bone" in messages[-1]
    controller.interpolate()
    assert "two slices" in messages[-1]


def test_undo_redo_revert_and_the_edited_signal(qtbot) -> None:
    _, controller, editor = setup(qtbot)
    edited: list[int] = []
    controller.edited.connect(lambda: edited.append(editor.version))
    controller.update(tool=EditTool.BRUSH, radius_mm=2.0)
    controller.pointer_press(AXIAL, (5.0, 15.0, 20.0))
    controller.pointer_release()
    assert edited and editor.changed_since_model
    assert controller.undo() and not editor.changed_since_model
    assert controller.redo() and editor.changed_since_model
    assert controller.revert() > 0 and not editor.changed_since_model
    assert len(edited) == 4


def test_detaching_leaves_the_tool(qtbot) -> None:
    _, controller, _ = setup(qtbot)
    controller.set_tool(EditTool.ERASER)
    controller.attach(None)
    assert controller.settings.tool is EditTool.NONE and not controller.active


def test_interpolate_smooth_and_holes_act_on_the_active_bone_in_the_last_view_used(qtbot) -> None:
    state, controller, editor = setup(qtbot)
    controller.update(tool=EditTool.BRUSH, radius_mm=4.0, active_label=1)
    for z in (2, 7):
        controller.pointer_press(AXIAL, (float(z), 15.0, 20.0))
        controller.pointer_release(AXIAL)
    disk = editor.labels[2] == 1
    assert controller.interpolate() == 4 * int(disk.sum())
    assert all(np.array_equal(editor.labels[z] == 1, disk) for z in range(2, 8))
    controller.update(tool=EditTool.ERASER, radius_mm=0.5)
    controller.pointer_press(AXIAL, (4.0, 15.0, 20.0))  # a small hole in slice 4 (0.5 mm: 3 voxels of 0.5 x 0.8)
    controller.pointer_release(AXIAL)
    assert editor.labels[4, 14:17, 20].tolist() == [0, 0, 0]
    assert controller.fill_holes(per_slice=True) == 3 and (editor.labels[4, 14:17, 20] == 1).all()
    state.set_cursor((4, 15, 20))
    assert controller.smooth(this_slice_only=True) >= 0
    assert set(np.nonzero(editor.labels != editor.model)[0]) <= set(range(2, 8))


def test_without_a_result_no_tool_can_be_chosen(qtbot) -> None:
    controller = EditController(ViewerState())
    messages: list[str] = []
    controller.message.connect(messages.append)
    controller.set_tool(EditTool.BRUSH)
    assert controller.settings.tool is EditTool.NONE and not controller.active
    assert "Segment the CT first" in messages[-1]
    controller.update(radius_mm=6.0)  # sizes can still be set beforehand
    assert controller.settings.radius_mm == 6.0 and len(messages) == 1
