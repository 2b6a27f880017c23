"""Ruler and angle in a slice view: their readings follow their ends, in millimetres and degrees."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.app import configure_pyqtgraph
from kneeseg_app.ui.state.display_geometry import CORONAL
from kneeseg_app.ui.state.measure import angle_deg, distance_mm
from kneeseg_app.ui.state.viewer_state import ViewerState
from kneeseg_app.ui.widgets.measure_tools import add_angle, add_ruler
from kneeseg_app.ui.widgets.slice_view import SliceView


def test_distance_and_angle_are_plane_geometry() -> None:
    assert distance_mm((0, 0), (3, 4)) == pytest.approx(5.0)
    assert angle_deg((1, 0), (0, 0), (0, 1)) == pytest.approx(90.0)
    assert angle_deg((1, 0), (0, 0), (1, 1)) == pytest.approx(45.0)


@pytest.fixture
def view(qtbot):
    configure_pyqtgraph()
    state = ViewerState()
    view = SliceView(state, CORONAL)
    qtbot.addWidget(view)
    view.resize(500, 500)
    view.show()
    qtbot.waitExposed(view)
    state.set_volume(Volume(np.zeros((40, 50, 60), np.int16), (2.0, 0.8, 0.8)))
    return view


def _move(measurement, index: int, dx: float, dy: float) -> None:
    roi = measurement.roi
    handle = roi.getHandles()[index]
    start = roi.mapToParent(roi.getLocalHandlePositions()[index][1])
    roi.movePoint(handle, QPointF(start.x() + dx, start.y() + dy), coords="parent")


def test_a_ruler_reads_its_length_in_mm_as_its_end_moves(view) -> None:
    ruler = add_ruler(view)
    assert ruler.text() == "40.0 mm"

    _move(ruler, 1, 30.0, 40.0)  # the far end moves 30 mm along and 40 mm across

    assert ruler.value() == pytest.approx(np.hypot(70.0, 40.0), abs=0.05)
    assert ruler.label.toPlainText() == f"{np.hypot(70.0, 40.0):.1f} mm"


def test_an_angle_reads_degrees_at_its_vertex(view) -> None:
    angle = add_angle(view)
    assert angle.text() == "90.0 deg"

    _move(angle, 2, 30.0, 0.0)  # the second arm's end moves to the first arm's side: 45 deg

    assert angle.value() == pytest.approx(45.0, abs=0.05)
    angle.remove()
    assert angle.roi not in view.viewbox.addedItems
