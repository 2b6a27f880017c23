"""Leaving a case safely and sessions, in the real window: asked before a result is lost,
nothing of the old case left on screen, a session saved, reopened and saved again byte for byte."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from ui_support import knee_series, wait_idle, wait_loaded

from kneeseg_app.core.session_file import read_session


def open_and_segment(qtbot, window, folder, model: str = "test-threshold-2d") -> None:
    window.open_path(folder)
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: window.models.find(model) is not None, timeout=5000)
    window.models.select(model)
    qtbot.waitUntil(lambda: window.run_panel.segment.isEnabled(), timeout=5000)
    qtbot.mouseClick(window.run_panel.segment, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.result is not None, timeout=30000)
    wait_idle(qtbot, window)


def edit_one_block(window) -> np.ndarray:
    """Label a block of air as femur (one undo step), as a brush would; returns the edited labels."""
    edited = window.session.editor.labels.copy()
    edited[2:4, 5:9, 5:9] = 1
    window.session.editor.replace_labels(edited, "test edit")
    return edited


def save_session_to(qtbot, window, dialogs, path: Path) -> Path:
    """File > Save session… to ``path``, and wait until the background write has ended."""
    dialogs.save_file = str(path)
    with qtbot.waitSignal(window.sessions.saver.done, timeout=30000):
        assert window.sessions.save_session()
    return path


def other_ct(tmp_path: Path, origin_x: float = -25.6) -> Path:
    folder = tmp_path / f"other_ct_{origin_x}"
    knee_series(origin=(origin_x, -25.6, 0.0), description="Another knee").write(folder)
    return folder


def test_opening_another_case_with_an_unsaved_result_asks_and_cancel_keeps_it(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    open_and_segment(qtbot, window, knee_dicom)
    result = window.session.result
    dialogs.save_answer = "cancel"
    assert window.open_path(other_ct(tmp_path)) is False
    assert "not saved" in dialogs.questions[-1]
    assert window.session.result is result and not window.loader.busy


def test_discard_opens_the_other_case_and_nothing_of_the_old_one_stays(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    open_and_segment(qtbot, window, knee_dicom)
    edit_one_block(window)
    assert window.run_panel.outcome.text()
    dialogs.save_answer = "discard"
    other = other_ct(tmp_path)
    window.open_path(other)
    assert "edited segmentation" in dialogs.questions[-1]
    qtbot.waitUntil(lambda: window.session.case is not None and window.session.case.source == other, timeout=20000)
    wait_idle(qtbot, window)
    assert window.session.result is None
    assert window.run_panel.outcome.text() == "" and window.run_panel.bar.value() == 0
    assert window.metrics_panel.table.rowCount() == 0
    assert window.checks.quality.report is None
    assert window.viewer_state.labels is None
    assert "Another knee" in window.windowTitle()
    assert window.viewer.view3d.title.text() == "3D" and window.viewer.view3d.stack.currentIndex() == 0
    assert window.editing.panel.status.text() == ""
    assert window.run_panel.hint.text().startswith("Next: press Segment")


def test_a_running_segmentation_is_not_stopped_without_asking(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    window.open_path(knee_dicom)
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: window.models.find("test-threshold-2d") is not None, timeout=5000)
    window.models.select("test-threshold-2d")
    assert window.segment(window.run_panel.options())
    dialogs.confirm_answer = False
    assert window.open_path(other_ct(tmp_path)) is False
    assert "still running" in dialogs.questions[-1]
    assert window.segmenter.running or window.session.result is not None  # not cancelled
    qtbot.waitUntil(lambda: window.session.result is not None, timeout=30000)


def test_closing_with_an_unsaved_result_asks_and_cancel_keeps_the_window(
    qtbot, window, dialogs, threshold_model, knee_dicom
) -> None:
    open_and_segment(qtbot, window, knee_dicom)
    dialogs.save_answer = "cancel"
    assert window.close() is False
    assert window.isVisible() and "close KneeSeg" in dialogs.questions[-1]
    dialogs.save_answer = "discard"


def test_a_session_round_trips_byte_identically_through_the_window(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    open_and_segment(qtbot, window, knee_dicom)
    edited = edit_one_block(window)
    model_labels = window.session.model_result.labels.array.copy()
    first = save_session_to(qtbot, window, dialogs, tmp_path / "saved" / "knee.kneeseg")
    assert not window.session.unsaved and window.sessions.path == first
    stored = read_session(first)
    assert stored.ct.series_instance_uid == window.session.volume.dicom.series_instance_uid
    assert stored.ct.frame_of_reference_uid.endswith(".9")  # read from the CT's first header
    np.testing.assert_array_equal(stored.edited_labels, edited)

    window.open_path(other_ct(tmp_path))  # saved: no question
    qtbot.waitUntil(lambda: window.session.case is not None and "Another" in window.session.case.title, timeout=20000)
    assert not dialogs.questions
    assert window.sessions.open_session(first)
    qtbot.waitUntil(lambda: window.session.result is not None, timeout=20000)
    wait_idle(qtbot, window)
    np.testing.assert_array_equal(window.session.model_result.labels.array, model_labels)
    np.testing.assert_array_equal(window.session.result.labels.array, edited)
    assert window.session.editor.can_undo and not window.session.unsaved

    second = save_session_to(qtbot, window, dialogs, tmp_path / "again.kneeseg")
    assert second.read_bytes() == first.read_bytes()


def test_a_session_is_refused_on_a_ct_with_another_grid(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    open_and_segment(qtbot, window, knee_dicom)
    path = save_session_to(qtbot, window, dialogs, tmp_path / "knee.kneeseg")
    record = read_session(path)
    moved = other_ct(tmp_path, origin_x=-20.0)
    # the same session, pointing at a CT with another series and origin
    from dataclasses import replace

    from kneeseg_app.core.session_file import write_session

    write_session(path, replace(record, ct=replace(record.ct, location=str(moved))))
    window.sessions.open_session(path)
    qtbot.waitUntil(lambda: bool(dialogs.of_kind("error")), timeout=20000)
    title, text = dialogs.of_kind("error")[-1][1:]
    assert title == "Cannot open the session" and "not the session's" in text
    assert window.session.result is None


def test_dropping_a_folder_on_an_unsaved_result_asks_first(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    open_and_segment(qtbot, window, knee_dicom)
    dialogs.save_answer = "cancel"
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(other_ct(tmp_path)))])
    event = QDropEvent(
        QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)
    assert "not saved" in dialogs.questions[-1]
    assert window.session.case.source == knee_dicom and not window.loader.busy


def _edited_case_with_a_held_save(
    qtbot, window, dialogs, folder: Path, target: Path, threads: list[int] | None = None
) -> tuple[np.ndarray, threading.Event]:
    """Segment and edit a case; the next save goes to ``target``, records the thread of each of its
    progress reports in ``threads`` and holds its first report until the returned event is set."""
    open_and_segment(qtbot, window, folder)
    edited = edit_one_block(window)
    dialogs.save_file = str(target)
    release = threading.Event()

    def report(_stage: str, _fraction: float) -> None:
        (threads if threads is not None else []).append(threading.get_ident())
        release.wait(timeout=20)

    def hook(task) -> None:
        task.progress.connect(report, Qt.ConnectionType.DirectConnection)  # runs where the write runs

    window.sessions.saver.started.connect(hook)
    return edited, release


def test_a_session_is_written_off_the_gui_thread_and_the_file_reopens(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    threads: list[int] = []
    path = tmp_path / "knee.kneeseg"
    edited, release = _edited_case_with_a_held_save(qtbot, window, dialogs, knee_dicom, path, threads)
    release.set()  # nothing to hold here
    with qtbot.waitSignal(window.sessions.saver.done, timeout=30000):
        assert window.sessions.save_session()
    assert threads and threading.get_ident() not in threads  # the GUI thread never wrote
    assert not window.session.unsaved and not window.sessions.save_progress.isVisible()
    assert "Saved the session" in window.statusBar().currentMessage()
    stored = read_session(path)
    np.testing.assert_array_equal(stored.edited_labels, edited)
    np.testing.assert_array_equal(stored.model_labels, window.session.model_result.labels.array)


def test_the_window_stays_live_while_a_session_is_written_and_edits_made_meanwhile_stay_unsaved(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    path = tmp_path / "knee.kneeseg"
    saved_labels, release = _edited_case_with_a_held_save(qtbot, window, dialogs, knee_dicom, path)
    try:
        assert window.sessions.save_session()
        qtbot.waitUntil(lambda: window.sessions.save_progress.isVisible(), timeout=5000)
        assert window.sessions.saver.busy
        assert not window.sessions.save_session()  # one save at a time
        later = window.session.editor.labels.copy()
        later[5:7, 5:9, 5:9] = 2
        window.session.editor.replace_labels(later, "an edit while saving")
    finally:
        release.set()
    qtbot.waitUntil(lambda: not window.sessions.saver.busy, timeout=30000)
    np.testing.assert_array_equal(read_session(path).edited_labels, saved_labels)
    assert window.session.unsaved  # the later edit is not in the file


def test_closing_the_window_while_a_session_is_written_waits_for_the_file(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    from PySide6.QtCore import QTimer

    path = tmp_path / "knee.kneeseg"
    edited, release = _edited_case_with_a_held_save(qtbot, window, dialogs, knee_dicom, path)
    busy_while_closing: list[bool] = []

    def let_it_finish() -> None:  # runs inside close(), while the window waits
        busy_while_closing.append(window.sessions.saver.busy)
        release.set()

    try:
        assert window.sessions.save_session()
        QTimer.singleShot(0, let_it_finish)
        assert window.close()
    finally:
        release.set()
    assert busy_while_closing == [True]
    assert not dialogs.questions  # saved by then: nothing to ask
    np.testing.assert_array_equal(read_session(path).edited_labels, edited)


def test_answering_save_before_another_case_writes_the_session_then_opens_the_case(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    open_and_segment(qtbot, window, knee_dicom)
    edited = edit_one_block(window)
    dialogs.save_answer = "save"
    dialogs.save_file = str(tmp_path / "before-leaving.kneeseg")
    other = other_ct(tmp_path)
    assert window.open_path(other)
    np.testing.assert_array_equal(read_session(tmp_path / "before-leaving.kneeseg").edited_labels, edited)
    qtbot.waitUntil(lambda: window.session.case is not None and window.session.case.source == other, timeout=20000)


def test_a_session_that_cannot_be_written_is_said_in_one_sentence_and_stays_unsaved(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    open_and_segment(qtbot, window, knee_dicom)
    edit_one_block(window)
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")
    dialogs.save_file = str(not_a_folder / "knee.kneeseg")
    with qtbot.waitSignal(window.sessions.saver.done, timeout=30000):
        assert window.sessions.save_session()
    kind, title, text = dialogs.of_kind("error")[-1]
    assert title == "Cannot save the session"
    assert text.startswith("Cannot create the folder") and text.count(". ") == 0 and "\n" not in text
    assert window.session.unsaved and window.sessions.path is None
    assert list(tmp_path.glob("**/*.kneeseg")) == []
