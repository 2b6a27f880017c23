"""The window checks every result: the Checks tab, a banner for a failure, marked slices, a question before export."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from ui_support import wait_idle, wait_loaded


def _segment(qtbot, window, folder, model: str = "test-threshold-2d") -> None:
    window.open_path(folder)
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: window.models.find(model) is not None, timeout=5000)
    window.models.select(model)
    qtbot.waitUntil(lambda: window.run_panel.segment.isEnabled(), timeout=5000)
    qtbot.mouseClick(window.run_panel.segment, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.result is not None, timeout=30000)
    qtbot.waitUntil(lambda: window.checks.quality.report is not None, timeout=10000)


def _tab_titles(window) -> list[str]:
    return [window.tabs.tabText(i) for i in range(window.tabs.count())]


def test_a_result_is_checked_and_listed_in_the_checks_tab(qtbot, window, threshold_model, knee_dicom) -> None:
    assert "Checks" in _tab_titles(window)
    _segment(qtbot, window, knee_dicom)
    panel = window.checks.panel
    assert panel.list.count() == len(window.checks.quality.rows()) == 9
    assert panel.summary.text() == window.checks.quality.summary()
    wait_idle(qtbot, window)


def test_a_failing_result_shows_the_banner_marks_its_slices_and_export_asks(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    _segment(qtbot, window, knee_dicom)
    editor = window.session.editor
    labels = editor.labels
    femur = np.flatnonzero((labels == 1).any(axis=(1, 2)))
    gap = int(femur[len(femur) // 2])
    plane = np.where(labels[gap] == 1, 0, labels[gap]).astype(np.uint8)
    edited = labels.copy()
    edited[gap] = plane
    editor.replace_labels(edited, "cut a slice")
    qtbot.waitUntil(lambda: window.checks.quality.status == "fail", timeout=10000)
    assert window.banner_row.isVisible() and "Do not trust this result" in window.banner.text()
    assert gap in window.checks.quality.flagged_slices()
    window.checks.go_to_slice(gap)
    assert window.viewer_state.geometry.to_array_index(window.viewer_state.cursor)[0] == gap
    assert "Bone continuity" in window.checks.panel.slice_note.text()
    axial = window.viewer.views["Axial"]
    assert axial.position.text().endswith("\u26a0") and "Bone continuity" in axial.position.toolTip()
    window.checks.go_to_slice(0)
    assert not axial.position.text().endswith("\u26a0")
    dialogs.folder = str(tmp_path / "stl")
    dialogs.confirm_answer = False
    assert window.flows.export_surfaces() is False
    assert "failed" in dialogs.questions[-1] and "anyway" in dialogs.questions[-1]
    assert not (tmp_path / "stl").exists()
    dialogs.save_file = str(tmp_path / "seg.dcm")
    assert window.flows.save_dicom_seg() is None
    assert "Export the DICOM SEG anyway?" in dialogs.questions[-1]
    assert not (tmp_path / "seg.dcm").exists()
    dialogs.confirm_answer = True  # the user's call: the failing result is exported when asked for
    assert window.flows.save_dicom_seg() == tmp_path / "seg.dcm" and (tmp_path / "seg.dcm").is_file()
    editor.revert_to_model()
    qtbot.waitUntil(lambda: window.checks.quality.status != "fail", timeout=10000)
    assert not window.banner_row.isVisible()
    wait_idle(qtbot, window)


def test_a_ct_that_is_not_a_knee_is_refused_before_segmenting(
    qtbot, window, dialogs, threshold_model, tmp_path
) -> None:
    import SimpleITK as sitk

    from kneeseg_app.core.volume import Volume

    labels_as_ct = np.zeros((12, 48, 48), np.uint8)
    labels_as_ct[3:9, 10:30, 10:30] = 1
    path = tmp_path / "in" / "labels.nii.gz"
    path.parent.mkdir()
    sitk.WriteImage(Volume(labels_as_ct, (2.0, 0.8, 0.8)).to_sitk(), str(path))
    window.open_path(path)
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: window.models.find("test-threshold-2d") is not None, timeout=5000)
    window.models.select("test-threshold-2d")
    assert window.segment(window.run_panel.options()) is False
    title, text = dialogs.of_kind("error")[-1][1:]
    assert title == "Not a knee CT" and "label map" in text
    assert window.session.result is None
