"""Bad input never freezes or kills the window: each problem reaches the user in words."""

from __future__ import annotations

import pytest
from ui_support import wait_idle

from kneeseg_app.core.errors import DuplicateSlicesError
from kneeseg_app.ui.widgets.dialogs import DialogService, describe_exception


@pytest.mark.parametrize(
    "case, words",
    [
        ("broken-series/slicecount/001", "not CT"),
        ("broken-series/sliceorientation/001", "not CT"),
        ("ct-small-single.dcm", "single slice"),
        ("broken-series/notavolume/001", "same position"),
    ],
)
def test_real_bad_dicom_is_refused_with_a_plain_sentence(qtbot, window, dialogs, real_dicom, case, words) -> None:
    window.open_path(real_dicom / case)
    qtbot.waitUntil(lambda: bool(dialogs.of_kind("error")), timeout=20000)
    wait_idle(qtbot, window)
    kind, title, text = dialogs.of_kind("error")[0]
    assert words in text
    assert "Traceback" not in text and "\n" not in text
    assert window.session.volume is None
    assert window.isVisible() and not window.busy_bar.isVisible()


def test_a_tilted_gantry_case_opens_with_its_warning_in_view(qtbot, window, dialogs, real_dicom) -> None:
    window.open_path(real_dicom / "ge-head-gantry-tilt")
    qtbot.waitUntil(lambda: window.session.volume is not None, timeout=30000)
    warning = dialogs.of_kind("warning")[0][2]
    assert "tilt" in warning.lower()
    assert window.banner_row.isVisible() and "tilt" in window.banner.text().lower()
    assert dialogs.of_kind("error") == []


def test_a_missing_path_is_reported_without_starting_work(window, dialogs, tmp_path) -> None:
    window.open_path(tmp_path / "moved-away")
    assert "does not exist" in dialogs.of_kind("error")[0][2]
    assert not window.loader.busy


def test_segment_without_a_model_says_what_to_do(qtbot, window, dialogs, knee_dicom) -> None:
    window.open_path(knee_dicom)
    wait_idle(qtbot, window)
    window.models.select("")  # none chosen (or none installed)
    assert not window.run_panel.segment.isEnabled()
    assert "model" in window.run_panel.segment.toolTip().lower()
    window.segment(window.run_panel.options())  # e.g. from the toolbar
    assert "model" in dialogs.of_kind("error")[0][2].lower()


def test_a_reference_on_another_grid_is_refused(qtbot, window, dialogs, knee_dicom, real_dicom) -> None:
    window.open_path(knee_dicom)
    wait_idle(qtbot, window)
    dialogs.open_file = str(real_dicom / "ge-abdomen-3slice-with-seg" / "liver_seg.nrrd")
    window.flows.load_reference()
    qtbot.waitUntil(lambda: bool(dialogs.of_kind("error")) or window.session.reference is not None, timeout=10000)
    assert window.session.reference is None, dialogs.messages
    assert "Traceback" not in dialogs.of_kind("error")[0][2]


def test_the_real_reference_of_a_real_ct_loads_on_its_grid(qtbot, window, dialogs, real_dicom) -> None:
    window.open_path(real_dicom / "ge-abdomen-3slice-with-seg")  # finds the CT in ct/, not the SEG
    qtbot.waitUntil(lambda: window.session.volume is not None, timeout=20000)
    dialogs.open_file = str(real_dicom / "ge-abdomen-3slice-with-seg" / "liver_seg.nrrd")
    window.flows.load_reference()
    qtbot.waitUntil(lambda: window.session.reference is not None or bool(dialogs.of_kind("error")), timeout=10000)
    assert dialogs.of_kind("error") == []
    assert window.session.reference.shape == window.session.volume.shape
    assert "Reference" in window.metrics_panel.status.text()


def test_unexpected_failures_are_one_sentence_with_the_details_folded_away(qtbot) -> None:
    try:
        {}["missing"]
    except KeyError as exc:
        text, details = describe_exception(exc)
    assert text.startswith("Something unexpected went wrong (KeyError") and "\n" not in text
    assert "Traceback" in details
    assert describe_exception(DuplicateSlicesError("Two slices share a position.")) == (
        "Two slices share a position.",
        "",
    )
    from PySide6.QtWidgets import QMessageBox

    box = DialogService().message_box(QMessageBox.Icon.Critical, "Cannot open", text, details)
    assert box.text() == text and "Traceback" in box.detailedText()


def test_opening_another_case_while_one_loads_keeps_only_the_last(
    qtbot, window, dialogs, knee_dicom, real_dicom
) -> None:
    window.open_path(real_dicom / "siemens-jpeg2000-abdomen")
    window.open_path(knee_dicom)  # changed their mind at once
    qtbot.waitUntil(lambda: window.session.volume is not None and not window.loader.busy, timeout=30000)
    qtbot.wait(200)
    assert window.session.case.source == knee_dicom
    assert dialogs.of_kind("error") == []
