"""Background tasks end with exactly one of finished / failed / cancelled, on the GUI thread."""

from __future__ import annotations

import threading
import time

from PySide6.QtCore import QThread

from kneeseg_app.core.errors import NotCTError
from kneeseg_app.ui.controllers.workers import Task


def test_a_task_delivers_its_result_and_progress_on_the_gui_thread(qtbot) -> None:
    seen, results, running_when_handled = [], [], []

    def work(progress, cancel):
        progress("half", 0.5)
        return threading.current_thread().name

    task = Task(work)
    task.progress.connect(lambda stage, f: seen.append((stage, f, QThread.currentThread() is task.thread())))
    task.finished.connect(lambda result: (results.append(result), running_when_handled.append(task.running)))
    with qtbot.waitSignal(task.done, timeout=5000):
        task.start()
    assert results and results[0] != threading.current_thread().name  # it ran elsewhere
    assert seen == [("half", 0.5, True)]
    assert running_when_handled == [True]  # "not running" only once the result is handled
    assert not task.running


def test_a_failing_task_hands_over_the_exception(qtbot) -> None:
    def work(progress, cancel):
        raise NotCTError("This series is MR, not CT.")

    task = Task(work)
    with qtbot.waitSignal(task.failed, timeout=5000) as blocker:
        task.start()
    assert isinstance(blocker.args[0], NotCTError)


def test_cancel_stops_work_that_reports_progress_within_a_second(qtbot) -> None:
    def work(progress, cancel):
        for i in range(10_000):
            time.sleep(0.01)
            progress("looping", i / 10_000)  # raises Cancelled once cancelled
        return "finished anyway"

    task = Task(work)
    finished = []
    task.finished.connect(finished.append)
    task.start()
    qtbot.wait(100)
    start = time.monotonic()
    with qtbot.waitSignal(task.cancelled, timeout=2000):
        task.cancel()
    assert time.monotonic() - start < 1.0
    assert finished == []


def test_work_that_ignores_progress_but_returns_after_cancel_counts_as_cancelled(qtbot) -> None:
    def work(progress, cancel):
        while not cancel.cancelled:
            time.sleep(0.01)
        return "partial"

    task = Task(work)
    task.start()
    with qtbot.waitSignal(task.cancelled, timeout=2000):
        task.cancel()


def test_a_stop_after_finished_work_keeps_its_result_when_the_task_says_so(qtbot) -> None:
    """A session file written before Stop arrived stays written: the task reports it saved, not stopped."""

    def work(progress, cancel):
        cancel.cancel()  # Stop pressed just as the work returns
        return "written"

    kept = Task(work, keep_finished_work=True)
    with qtbot.waitSignal(kept.finished, timeout=5000) as blocker:
        kept.start()
    assert blocker.args == ["written"]
    plain = Task(work)
    with qtbot.waitSignal(plain.cancelled, timeout=5000):
        plain.start()
