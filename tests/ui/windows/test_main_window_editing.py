"""Correcting a result in the real window: paint, erase, undo, redo with mouse and keys; exports follow.

Expected voxels are computed here from the mouse positions (voxel centres within the brush
radius, in mm, of the pointer's path), independently of the editing code.
"""

from __future__ import annotations

import struct

import numpy as np
import pytest
import SimpleITK as sitk
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from ui_support import wait_idle, wait_loaded

from kneeseg_app.ui.controllers.editing import EditTool


def open_and_segment(qtbot, window, folder, model: str = "test-threshold-2d") -> None:
    window.open_path(folder)
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: window.models.find(model) is not None, timeout=5000)
    window.models.select(model)
    qtbot.waitUntil(lambda: window.run_panel.segment.isEnabled(), timeout=5000)
    qtbot.mouseClick(window.run_panel.segment, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.result is not None, timeout=30000)
    wait_idle(qtbot, window)


def pixel_at(view, x_mm: float, y_mm: float) -> QPoint:
    """The viewport pixel showing a point of the view's plane (mm from the image corner)."""
    return view.canvas.mapFromScene(view.viewbox.mapViewToScene(QPointF(x_mm, y_mm)))


def display_point(view, pixel: QPoint) -> np.ndarray:
    """The continuous display (S, P, L) position a pixel stands for, as the view maps it."""
    scene = view.canvas.mapToScene(pixel)
    plane = view.viewbox.mapSceneToView(scene)
    spacing = view.state.geometry.spacing
    point = np.zeros(3)
    point[view.spec.slice_axis] = view.state.cursor[view.spec.slice_axis]
    point[view.spec.col_axis] = plane.x() / spacing[view.spec.col_axis] - 0.5
    point[view.spec.row_axis] = plane.y() / spacing[view.spec.row_axis] - 0.5
    return point


def within_segment(view, start: np.ndarray, end: np.ndarray, radius_mm: float) -> np.ndarray:
    """Display-space mask of the voxels of the view's slice whose centre is within ``radius_mm`` of start-end."""
    geometry = view.state.geometry
    spacing = np.asarray(geometry.spacing)
    grid = np.indices(geometry.shape).reshape(3, -1).T.astype(float)
    a, d = start * spacing, (end - start) * spacing
    rel = grid * spacing - a
    t = np.clip((rel @ d) / (d @ d), 0, 1) if d @ d > 0 else np.zeros(len(grid))
    dist = np.linalg.norm(rel - t[:, None] * d, axis=1)
    inside = (dist <= radius_mm) & (grid[:, view.spec.slice_axis] == start[view.spec.slice_axis])
    return inside.reshape(geometry.shape)


def drag(widget, start: QPoint, end: QPoint, steps: int = 6) -> None:
    """A hand-speed left drag (pyqtgraph drops mouse moves closer than ~16 ms apart)."""
    QTest.mousePress(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for t in np.linspace(0, 1, steps)[1:]:
        QTest.qWait(20)
        QTest.mouseMove(
            widget, QPoint(int(start.x() + t * (end.x() - start.x())), int(start.y() + t * (end.y() - start.y())))
        )
    QTest.mouseRelease(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def edited_display(window) -> np.ndarray:
    return window.viewer_state.geometry.view(window.session.editor.labels).copy()


def press_key(qtbot, window, key, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: window.isActiveWindow(), timeout=3000)
    QTest.keyClick(window.viewer.views["Axial"].canvas, key, modifier)


@pytest.fixture
def segmented(qtbot, window, threshold_model, knee_dicom):
    open_and_segment(qtbot, window, knee_dicom)
    state = window.viewer_state
    femur = np.argwhere(window.session.result.labels.array == 1)
    state.set_cursor(state.geometry.to_display_index(tuple(femur[len(femur) // 2])))
    return window


def test_brush_erase_undo_redo_with_mouse_and_keys_change_exactly_the_voxels_under_the_pointer(
    qtbot, segmented
) -> None:
    window = segmented
    view = window.viewer.views["Axial"]
    viewport = view.canvas.viewport()
    editor = window.session.editor
    width, height = window.viewer_state.geometry.plane_size_mm(view.spec)
    radius = 2.0

    press_key(qtbot, window, Qt.Key.Key_B)
    assert window.editing.controller.settings.tool is EditTool.BRUSH
    window.editing.controller.update(radius_mm=radius, active_label=2)
    cursor = window.viewer_state.cursor

    # paint: a horizontal drag across the femur, in tibia's label
    start, end = pixel_at(view, 0.3 * width, 0.5 * height), pixel_at(view, 0.7 * width, 0.5 * height)
    before = edited_display(window)
    drag(viewport, start, end)
    swept = within_segment(view, display_point(view, start), display_point(view, end), radius)
    after = edited_display(window)
    assert np.array_equal(after != before, swept & (before != 2))
    assert (after[swept] == 2).all() and swept.sum() > 20
    assert window.viewer_state.cursor == cursor  # painting does not move the crosshair
    assert editor.history.undo_count == 1  # one drag, one step

    # erase: a single click is a disk
    press_key(qtbot, window, Qt.Key.Key_E)
    assert window.editing.controller.settings.tool is EditTool.ERASER
    click = pixel_at(view, 0.5 * width, 0.5 * height)
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, click)
    disk = within_segment(view, display_point(view, click), display_point(view, click), radius)
    erased = edited_display(window)
    assert np.array_equal(erased != after, disk & (after != 0))
    assert (erased[disk] == 0).all()
    assert editor.history.undo_count == 2

    # undo / redo from the keyboard, exactly back and forth
    press_key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(edited_display(window), after)
    press_key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(edited_display(window), before)
    press_key(qtbot, window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(edited_display(window), after)
    press_key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert np.array_equal(edited_display(window), erased)

    # the overlay drawn is the edited one
    overlay = view.result_item.image
    slice_labels = np.take(erased, cursor[0], axis=0)
    assert ((overlay[..., 3] > 0) == (slice_labels > 0)).all()

    # Esc leaves the tool: a left drag moves the crosshair again and paints nothing
    press_key(qtbot, window, Qt.Key.Key_Escape)
    assert window.editing.controller.settings.tool is EditTool.NONE
    drag(viewport, pixel_at(view, 0.2 * width, 0.2 * height), pixel_at(view, 0.3 * width, 0.3 * height))
    assert np.array_equal(edited_display(window), erased)
    assert window.viewer_state.cursor != cursor


def test_revert_gives_the_model_result_back_and_can_be_undone(qtbot, segmented) -> None:
    window = segmented
    controller, editor = window.editing.controller, window.session.editor
    model = editor.model.copy()
    controller.update(tool=EditTool.ERASER, radius_mm=3.0, three_d=True)
    view = window.viewer.views["Axial"]
    width, height = window.viewer_state.geometry.plane_size_mm(view.spec)
    QTest.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pixel_at(view, width / 2, height / 2))
    assert window.session.edits.edited and window.editing.panel.revert_button.isEnabled()
    edited = editor.labels.copy()
    window.editing.panel.revert_button.click()
    assert np.array_equal(editor.labels, model) and not window.session.edits.edited
    assert window.session.result is window.session.model_result
    window.editing.actions["undo"].trigger()
    assert np.array_equal(editor.labels, edited)


def _stl_vertices(path) -> np.ndarray:
    data = path.read_bytes()
    (count,) = struct.unpack_from("<I", data, 80)
    record = np.dtype([("normal", "<f4", (3,)), ("vertices", "<f4", (3, 3)), ("attribute", "<u2")])
    return np.frombuffer(data, dtype=record, count=count, offset=84)["vertices"].reshape(-1, 3)


def test_volumes_nifti_and_stl_exports_carry_the_edits(qtbot, segmented, dialogs, tmp_path) -> None:
    window = segmented
    controller, editor = window.editing.controller, window.session.editor
    state = window.viewer_state
    volume = window.session.volume
    femur_ml = window.session.result.volumes_ml["femur"]
    # a 3D ball of femur in the air at the image's corner, far from both bones
    corner_display = (state.cursor[0], 6, 6)
    state.set_cursor(corner_display)
    controller.update(tool=EditTool.BRUSH, radius_mm=3.0, three_d=True, active_label=1)
    view = window.viewer.views["Axial"]
    spacing = state.geometry.spacing
    QTest.mouseClick(
        view.canvas.viewport(),
        Qt.MouseButton.LeftButton,
        pos=pixel_at(view, (6 + 0.5) * spacing[2], (6 + 0.5) * spacing[1]),
    )
    added = int(np.count_nonzero((editor.labels == 1) & (editor.model != 1)))
    assert added > 50
    result = window.session.result
    assert result.volumes_ml["femur"] == pytest.approx(femur_ml + added * volume.voxel_volume_ml)
    assert np.array_equal(result.labels.array, editor.labels)
    assert window.editing.panel.status.text().startswith("femur")

    dialogs.save_file = str(tmp_path / "out" / "edited.nii.gz")
    saved = window.flows.save_labels()
    back = sitk.GetArrayFromImage(sitk.ReadImage(str(saved)))
    assert np.array_equal(back, editor.labels) and not np.array_equal(back, editor.model)

    dialogs.folder = str(tmp_path / "stl")
    assert window.flows.export_surfaces()
    qtbot.waitUntil(lambda: (tmp_path / "stl" / "TEST0001_femur.stl").exists(), timeout=30000)
    qtbot.waitUntil(lambda: window.export_task is None or not window.export_task.running, timeout=30000)
    vertices = _stl_vertices(tmp_path / "stl" / "TEST0001_femur.stl")
    ball_centre = volume.index_to_lps(np.array(state.geometry.to_array_index(corner_display), dtype=float))
    near = np.linalg.norm(vertices - ball_centre, axis=1) < 5.0
    assert near.any()  # the painted ball is part of the exported femur surface
    model_femur = np.argwhere(editor.model == 1)
    assert np.linalg.norm(volume.index_to_lps(model_femur.astype(float)) - ball_centre, axis=1).min() > 10.0

    # DICOM SEG (the window's SEG export, like every export, writes session.result)
    from kneeseg_app.core.dicom.seg import write_dicom_seg
    from kneeseg_app.core.dicom.seg_read import read_dicom_seg

    seg = write_dicom_seg(window.session.result.labels, volume, tmp_path / "seg" / "edited.dcm")
    assert np.array_equal(read_dicom_seg(seg, volume).array, editor.labels)


def test_metrics_and_surfaces_are_recomputed_from_the_edited_result(qtbot, segmented, dialogs, tmp_path) -> None:
    window = segmented
    model = window.session.result.labels
    reference_path = tmp_path / "refs" / "reference.nii.gz"
    reference_path.parent.mkdir()
    sitk.WriteImage(model.to_sitk(), str(reference_path))
    dialogs.open_file = str(reference_path)
    window.flows.load_reference()
    qtbot.waitUntil(lambda: window.session.metrics is not None, timeout=20000)
    assert window.metrics_panel.value("femur", "dice") == pytest.approx(1.0)

    controller, editor = window.editing.controller, window.session.editor
    controller.update(tool=EditTool.ERASER, radius_mm=4.0, three_d=True)
    view = window.viewer.views["Axial"]
    width, height = window.viewer_state.geometry.plane_size_mm(view.spec)
    cursor_scene = window.viewer_state.geometry.display_to_scene(view.spec, window.viewer_state.cursor)
    QTest.mouseClick(view.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pixel_at(view, *cursor_scene))
    removed = int(np.count_nonzero((editor.model == 1) & (editor.labels == 0)))
    assert removed > 0
    qtbot.waitUntil(
        lambda: window.session.metrics is not None and window.metrics_panel.value("femur", "dice") < 1.0, timeout=20000
    )
    femur_model = int(np.count_nonzero(editor.model == 1))
    assert window.metrics_panel.value("femur", "dice") == pytest.approx(
        2 * (femur_model - removed) / (2 * femur_model - removed)
    )
    # the 3D view is rebuilt from the edited result (offscreen there is no OpenGL: only its title shows it)
    qtbot.waitUntil(lambda: window.viewer.view3d.title.text() == "3D: edited result", timeout=5000)
    assert np.array_equal(window.session.result.labels.array, editor.labels)


def test_the_brush_shows_its_size_under_the_mouse(qtbot, segmented) -> None:
    window = segmented
    view = window.viewer.views["Coronal"]
    width, height = window.viewer_state.geometry.plane_size_mm(view.spec)
    QTest.qWait(30)  # pyqtgraph drops moves closer than ~16 ms apart
    QTest.mouseMove(view.canvas.viewport(), pixel_at(view, width / 2, height / 2))
    assert not view.brush_outline.isVisible()  # no tool: the crosshair, no brush
    window.editing.controller.update(tool=EditTool.BRUSH, radius_mm=5.0)
    QTest.qWait(30)  # pyqtgraph drops moves closer than ~16 ms apart
    QTest.mouseMove(view.canvas.viewport(), pixel_at(view, width / 3, height / 3))
    assert view.brush_outline.isVisible()
    assert view.brush_outline.rect().width() == pytest.approx(10.0)  # mm, as the plane is drawn
    window.editing.controller.set_tool(EditTool.FILL)
    QTest.qWait(30)  # pyqtgraph drops moves closer than ~16 ms apart
    QTest.mouseMove(view.canvas.viewport(), pixel_at(view, width / 2, height / 2))
    assert not view.brush_outline.isVisible()


def test_the_edit_tools_wait_for_a_result(qtbot, window, threshold_model, knee_dicom) -> None:
    assert window.tabs.tabText(1) == "Edit"
    assert not window.editing.actions["tool_brush"].isEnabled() and not window.editing.actions["undo"].isEnabled()
    assert not window.editing.panel.tool_buttons[EditTool.BRUSH].isEnabled()
    open_and_segment(qtbot, window, knee_dicom)
    assert window.editing.actions["tool_brush"].isEnabled()
    assert window.editing.panel.tool_buttons[EditTool.BRUSH].isEnabled()
    window.open_path(knee_dicom)  # another case: its result is gone, and so are the tools
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: window.session.result is None, timeout=5000)
    assert not window.editing.actions["tool_brush"].isEnabled() and window.editing.controller.editor is None
