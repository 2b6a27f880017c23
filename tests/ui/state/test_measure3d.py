"""3D measurements: points in LPS mm placed click by click; distances and angles in space."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.ui.state.measure import angle_deg, distance_mm
from kneeseg_app.ui.state.measure3d import Measure3DState


def test_distances_and_angles_work_in_the_plane_and_in_space() -> None:
    assert distance_mm((0, 0), (3, 4)) == pytest.approx(5.0)
    assert distance_mm((1, 2, 3), (4, 6, 15)) == pytest.approx(13.0)
    assert angle_deg((1, 0), (0, 0), (0, 1)) == pytest.approx(90.0)
    assert angle_deg((1, 0, 0), (0, 0, 0), (1, 0, 1)) == pytest.approx(45.0)
    assert angle_deg((0, 0, 0), (0, 0, 0), (1, 0, 0)) == 0.0


def test_a_distance_is_complete_after_two_clicks_and_listed(qtbot) -> None:
    state = Measure3DState()
    assert state.mode is None and state.add_point(np.zeros(3)) is None  # not measuring: clicks ignored
    with qtbot.waitSignal(state.changed):
        state.start("distance")
    assert state.mode == "distance"
    assert state.add_point(np.array([0.0, 0.0, 0.0]), "epicondyle_medial") is None
    assert state.pending.text() == "1 of 2 points" and len(state.shown()) == 1
    done = state.add_point(np.array([30.0, 40.0, 0.0]))
    assert done is not None and state.mode is None
    assert done.text() == "50.0 mm" and done.describe() == "epicondyle medial – surface"
    assert state.measurements == [done]


def test_an_angle_takes_three_points_the_vertex_in_the_middle() -> None:
    state = Measure3DState()
    state.start("angle")
    for p in ([10.0, 0, 0], [0.0, 0, 0], [0.0, 0, 10.0]):
        done = state.add_point(np.array(p))
    assert done is not None and done.text() == "90.0 deg"


def test_delete_clear_and_unknown_tools() -> None:
    state = Measure3DState()
    for end in (10.0, 20.0):
        state.start("distance")
        state.add_point(np.zeros(3))
        state.add_point(np.array([end, 0, 0]))
    state.delete(0)
    assert [m.text() for m in state.measurements] == ["20.0 mm"]
    state.start("angle")
    state.clear()
    assert state.measurements == [] and state.mode is None
    with pytest.raises(ValueError):
        state.start("area")


def test_a_complete_measurement_becomes_a_plan_entry_and_an_incomplete_one_does_not() -> None:
    from kneeseg_app.ui.state.measure3d import Measurement3D

    angle = Measurement3D("angle", [np.array([10.0, 0, 0]), np.zeros(3), np.array([0, 5.0, 0])], ["a", "", "b"])
    entry = angle.as_plan_entry()
    assert entry == {
        "kind": "angle",
        "value": 90.0,
        "unit": "deg",
        "points_lps": [[10.0, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 5.0, 0.0]],
        "landmarks": ["a", "", "b"],
    }
    with pytest.raises(ValueError):
        Measurement3D("distance", [np.zeros(3)], [""]).as_plan_entry()
