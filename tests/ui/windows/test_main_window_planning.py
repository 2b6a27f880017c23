"""Planning in the real window: the Plan tab plans the result, one table per knee, targets in the views."""

from __future__ import annotations

import json

from PySide6.QtCore import Qt
from test_main_window_sides import _segment, both_knees_model, two_knee_dicom  # noqa: F401 (fixtures)

from kneeseg_app.ui.widgets.measure_tools import add_ruler


def test_plan_this_result_fills_a_table_per_knee_and_puts_landmarks_in_the_views(
    qtbot,
    window,
    both_knees_model,  # noqa: F811 (the fixture imported above)
    two_knee_dicom,  # noqa: F811
    dialogs,
    tmp_path,
) -> None:
    _segment(qtbot, window, two_knee_dicom)

    qtbot.mouseClick(window.planning.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.planning.state.plan is not None, timeout=30000)

    assert sorted(window.planning.panel.tables) == ["left", "right"]
    assert window.planning.panel.tables["right"].rowCount() > 10
    assert all(overlay.targets for overlay in window.planning.overlays)  # every view got the landmarks
    # the plan (with any hand corrections) is saved as plan.json
    dialogs.save_file = str(tmp_path / "plan.json")
    qtbot.mouseClick(window.planning.save_button, Qt.MouseButton.LeftButton)
    saved = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert saved["schema"] == "kneeseg-plan" and sorted(k["side"] for k in saved["knees"]) == ["left", "right"]
    # a ruler in the chosen view reads millimetres
    window.planning.measure_view.setCurrentText("Coronal")
    ruler = window.planning.add_measurement(add_ruler)
    assert ruler.view is window.viewer.views["Coronal"] and ruler.text() == "40.0 mm"
    window.planning.clear_measurements()
    assert window.planning.measurements == []
    # a new result clears the plan (it belonged to the old labels)
    window.session.resultChanged.emit(None)
    assert window.planning.state.plan is None and not window.planning.save_button.isEnabled()
