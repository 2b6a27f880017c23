"""Mouse and keys in a slice view do what they do in PACS viewers."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.app import configure_pyqtgraph
from kneeseg_app.ui.state.viewer_state import ViewerState
from kneeseg_app.ui.widgets.viewer_panel import ViewerPanel


@pytest.fixture
def panel(qtbot):
    configure_pyqtgraph()
    state = ViewerState()
    panel = ViewerPanel(state)
    qtbot.addWidget(panel)
    panel.resize(900, 800)
    panel.show()
    qtbot.waitExposed(panel)
    array = (np.arange(20 * 40 * 50) % 3000 - 1000).astype(np.int16).reshape(20, 40, 50)
    state.set_volume(Volume(array, (2.5, 0.7, 0.7)))
    return panel


def _drag(widget, start: QPoint, end: QPoint, button) -> None:
    """A hand-speed drag (pyqtgraph drops mouse moves closer than ~16 ms apart)."""
    QTest.mousePress(widget, button, Qt.KeyboardModifier.NoModifier, start)
    for t in np.linspace(0, 1, 6)[1:]:
        QTest.qWait(20)
        QTest.mouseMove(
            widget, QPoint(int(start.x() + t * (end.x() - start.x())), int(start.y() + t * (end.y() - start.y())))
        )
    QTest.mouseRelease(widget, button, Qt.KeyboardModifier.NoModifier, end)


def test_right_drag_changes_window_and_level(panel) -> None:
    state = panel.state
    before = state.window
    viewport = panel.views["Axial"].canvas.viewport()
    centre = viewport.rect().center()
    _drag(viewport, centre, centre + QPoint(50, 0), Qt.MouseButton.RightButton)
    assert state.window.width > before.width and state.window.level == pytest.approx(before.level)
    assert state.preset is None
    wider = state.window
    _drag(viewport, centre, centre + QPoint(0, -40), Qt.MouseButton.RightButton)
    assert state.window.level < wider.level  # up: brighter


def test_the_wheel_scrolls_slices_and_ctrl_wheel_zooms(panel) -> None:
    state = panel.state
    view = panel.views["Sagittal"]
    viewport = view.canvas.viewport()
    before = state.cursor[2]
    centre = QPointF(viewport.rect().center())
    wheel = QWheelEvent(
        centre,
        QPointF(viewport.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, wheel)
    assert state.cursor[2] == before + 1
    range_before = view.viewbox.viewRange()
    zoom = QWheelEvent(
        centre,
        QPointF(viewport.mapToGlobal(centre.toPoint())),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, zoom)
    assert state.cursor[2] == before + 1
    width_before = range_before[0][1] - range_before[0][0]
    width_after = view.viewbox.viewRange()[0][1] - view.viewbox.viewRange()[0][0]
    assert width_after < width_before


def test_middle_drag_pans_without_moving_the_cursor(panel) -> None:
    view = panel.views["Coronal"]
    viewport = view.canvas.viewport()
    cursor = panel.state.cursor
    x_before = view.viewbox.viewRange()[0][0]
    centre = viewport.rect().center()
    _drag(viewport, centre, centre + QPoint(60, 0), Qt.MouseButton.MiddleButton)
    assert view.viewbox.viewRange()[0][0] < x_before  # the image moved right
    assert panel.state.cursor == cursor


def test_left_drag_moves_the_crosshair_in_the_other_views(panel) -> None:
    view = panel.views["Coronal"]
    viewport = view.canvas.viewport()
    centre = viewport.rect().center()
    _drag(viewport, centre, centre + QPoint(0, -60), Qt.MouseButton.LeftButton)
    s = panel.state.cursor[0]
    assert s > 10  # dragged up: towards superior
    line = panel.views["Sagittal"].lines[0]  # the axial plane drawn in the sagittal view
    assert line.value() == pytest.approx((s + 0.5) * 2.5)


def test_hovering_reports_the_voxel_under_the_mouse(panel, qtbot) -> None:
    readouts = []
    panel.readout.connect(readouts.append)
    view = panel.views["Axial"]
    scene_point = view.viewbox.mapViewToScene(QPointF(10.0 * 0.7 + 0.35, 5 * 0.7 + 0.35))
    view._on_mouse_moved(scene_point)
    assert readouts[-1].startswith("voxel (i, j, k) = (10, 5, ")
    view._on_mouse_moved(view.viewbox.mapViewToScene(QPointF(-50.0, -50.0)))
    assert readouts[-1] == ""


def test_double_clicking_a_view_name_shows_it_alone(panel) -> None:
    panel.toggle_maximised("Axial")
    assert panel.views["Axial"].isVisible() and not panel.views["Coronal"].isVisible() and not panel.view3d.isVisible()
    panel.toggle_maximised("Axial")
    assert panel.views["Coronal"].isVisible() and panel.view3d.isVisible()
