"""Planning in the real window: the Plan tab plans the result, one table per knee, targets in the views."""

from __future__ import annotations

from PySide6.QtCore import Qt
from test_main_window_sides import _segment, both_knees_model, two_knee_dicom  # noqa: F401 (fixtures)


def test_plan_this_result_fills_a_table_per_knee_and_puts_landmarks_in_the_views(
    qtbot,
    window,
    both_knees_model,
    two_knee_dicom,
    dialogs,  # noqa: F811
) -> None:
    _segment(qtbot, window, two_knee_dicom)

    qtbot.mouseClick(window.planning.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.planning.state.plan is not None, timeout=30000)

    assert sorted(window.planning.panel.tables) == ["left", "right"]
    assert window.planning.panel.tables["right"].rowCount() > 10
    assert all(overlay.targets for overlay in window.planning.overlays)  # every view got the landmarks
    # a new result clears the plan (it belonged to the old labels)
    window.session.resultChanged.emit(None)
    assert window.planning.state.plan is None
