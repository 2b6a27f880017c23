"""One click opens the bundled demo case with its reference (generated on first use)."""

from __future__ import annotations

from kneeseg_app.core import paths


def test_the_demo_case_opens_with_its_reference_segmentation(qtbot, window, dialogs) -> None:
    window.open_demo()
    qtbot.waitUntil(lambda: window.session.reference is not None or bool(dialogs.of_kind("error")), timeout=120000)
    assert dialogs.of_kind("error") == []
    case = window.session.case
    assert "Synthetic knee CT" in window.windowTitle()
    assert case.source.is_relative_to(paths.user_cache_dir()) or case.source.is_relative_to(paths.resources_dir())
    volume, reference = window.session.volume, window.session.reference
    assert reference.shape == volume.shape and set(int(v) for v in reference.array[::4, ::4, ::4].ravel()) >= {0, 1, 2}
    assert window.viewer_state.reference is reference  # outlined in the views
    assert "Reference" in window.metrics_panel.status.text()
    assert window.viewer.view3d.title.text() == "3D: reference"
