"""A series with missing slices: the window asks, naming the gap, and fills it only on a yes."""

from __future__ import annotations

from pathlib import Path

from dicom_factory import CTSeries
from ui_support import wait_idle


def _gapped_series(folder: Path) -> Path:
    CTSeries(n_slices=9, origin=(-10.0, -12.0, 30.0)).write(folder, skip=(4,))
    return folder


def test_the_window_asks_naming_the_gap_and_a_no_leaves_nothing_open(qtbot, window, dialogs, tmp_path) -> None:
    dialogs.confirm_answer = False

    window.open_path(_gapped_series(tmp_path / "ct"))
    qtbot.waitUntil(lambda: bool(dialogs.of_kind("error")), timeout=20000)
    wait_idle(qtbot, window)

    (question,) = dialogs.questions
    assert question.startswith("Slices are missing: a 2.0 mm gap between z = 33.0 mm and z = 35.0 mm")
    assert "Fill it by interpolating" in question
    assert "2.0 mm gap" in dialogs.of_kind("error")[0][2]
    assert window.session.volume is None


def test_a_yes_fills_the_gap_and_the_invented_slice_is_recorded_and_shown(qtbot, window, dialogs, tmp_path) -> None:
    dialogs.confirm_answer = True

    window.open_path(_gapped_series(tmp_path / "ct"))
    qtbot.waitUntil(lambda: window.session.volume is not None, timeout=20000)
    wait_idle(qtbot, window)

    volume = window.session.volume
    assert len(dialogs.questions) == 1 and dialogs.of_kind("error") == []
    assert volume.shape[0] == 9 and volume.dicom.interpolated_slices == (4,)
    assert any("Interpolated 1 slice(s)" in m[2] for m in dialogs.of_kind("warning"))
