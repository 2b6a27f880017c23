"""SessionSaver: the core's session write runs in a worker, hands back the result mark, and stops without a file."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer

from kneeseg_app.core.session_file import CTIdentity, SessionFile, read_session
from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.controllers.session_saving import SessionSaver
from kneeseg_app.ui.controllers.workers import task_pool

SHAPE = (20, 64, 64)


def _record() -> SessionFile:
    labels = np.zeros(SHAPE, np.uint8)
    labels[4:12, 10:40, 20:50] = 1
    labels[12:18, 10:40, 20:50] = 2
    ct = Volume(np.zeros(SHAPE, np.int16), (2.0, 0.8, 0.8), (0.0, 0.0, 0.0))
    return SessionFile(ct=CTIdentity.of(ct, "/data/knee"), model_name="knee", model_labels=labels)


def test_the_record_is_made_and_written_in_a_worker_and_the_mark_comes_back(qtbot, tmp_path: Path) -> None:
    saver = SessionSaver()
    threads: list[int] = []

    def make_record() -> SessionFile:
        threads.append(threading.get_ident())
        return _record()

    saver.started.connect(
        lambda task: task.progress.connect(
            lambda _stage, _f: threads.append(threading.get_ident()), Qt.ConnectionType.DirectConnection
        )
    )
    with qtbot.waitSignal(saver.saved, timeout=10000) as blocker:
        saver.save(tmp_path / "s.kneeseg", make_record, [], mark=(3, 7))
    assert blocker.args == [tmp_path / "s.kneeseg", (3, 7)]
    assert len(threads) >= 2 and threading.get_ident() not in threads
    np.testing.assert_array_equal(read_session(tmp_path / "s.kneeseg").model_labels, _record().model_labels)
    saver.wait()  # nothing running: returns at once
    assert not saver.busy


def test_a_stopped_save_ends_cancelled_and_leaves_no_file(qtbot, tmp_path: Path) -> None:
    saver = SessionSaver()
    saver.started.connect(lambda task: task.cancel())  # stopped before its first step
    saved: list[object] = []
    saver.saved.connect(lambda *args: saved.append(args))
    with qtbot.waitSignal(saver.cancelled, timeout=10000):
        saver.save(tmp_path / "s.kneeseg", _record, [], mark=(1, 0))
    saver.wait()
    assert saved == [] and list(tmp_path.iterdir()) == []


def test_a_save_into_an_input_folder_fails_with_the_core_s_sentence(qtbot, tmp_path: Path) -> None:
    inputs = tmp_path / "dicom"
    inputs.mkdir()
    saver = SessionSaver()
    with qtbot.waitSignal(saver.failed, timeout=10000) as blocker:
        saver.save(inputs / "s.kneeseg", _record, [inputs], mark=(1, 0))
    from kneeseg_app.core.errors import OutputError

    assert isinstance(blocker.args[0], OutputError)
    assert list(inputs.iterdir()) == []


def test_wait_returns_when_the_write_ended_before_it_was_called(qtbot, tmp_path: Path) -> None:
    """The worker emitted its end before ``wait`` listened, the delivery still queued (seen as a hang of the
    test suite under load): ``wait`` returns once the end has been handled all the same."""
    saver = SessionSaver()
    task = saver.save(tmp_path / "s.kneeseg", _record, [], mark=(1, 1))
    task_pool().waitForDone()  # the worker has emitted finished and done; no event has been handled
    assert task.running
    rescue = QTimer()  # were ``wait`` to hang, this ends its loop (and the test fails instead of hanging)
    rescue.setSingleShot(True)
    rescue.timeout.connect(lambda: setattr(task, "rescued", True) or task.done.emit())
    rescue.start(10_000)
    saver.wait()
    rescue.stop()
    assert not getattr(task, "rescued", False)
    assert not saver.busy and (tmp_path / "s.kneeseg").exists()
