"""The window runs a model as the CLI would: its default mirroring, the engine's real thread count,
and the bone names of the model that made the result."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from onnx_factory import write_model_package
from PySide6.QtCore import Qt
from ui_support import wait_loaded

from kneeseg_app.core import paths
from kneeseg_app.core.inference.settings import default_threads


def install_model(name: str, default_tta: bool = False, names: dict[str, str] | None = None) -> Path:
    """A real tiny ONNX package in the user's models folder, with the manifest's default_tta set."""
    folder = write_model_package(paths.user_models_dir() / name, name=name, patch_size=(64, 64))
    manifest_path = folder / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["inference"]["default_tta"] = default_tta
    if names:
        manifest["labels"] = {"0": "background", **names}
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return folder


def select_and_segment(qtbot, window, model: str) -> None:
    window.refresh_models()
    qtbot.waitUntil(lambda: window.models.find(model) is not None, timeout=5000)
    window.models.select(model)
    qtbot.waitUntil(lambda: window.run_panel.segment.isEnabled(), timeout=5000)
    window.session.set_result(None)
    qtbot.mouseClick(window.run_panel.segment, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.result is not None, timeout=30000)


@pytest.fixture
def opened(qtbot, window, knee_dicom):
    window.open_path(knee_dicom)
    wait_loaded(qtbot, window)
    return window


def test_a_model_with_default_tta_runs_mirrored_by_default(qtbot, kneeseg_home, opened) -> None:
    install_model("mirrored-2d", default_tta=True)
    select_and_segment(qtbot, opened, "mirrored-2d")
    assert opened.run_panel.tta.isChecked()  # the box shows what will happen
    settings = opened.session.result.settings
    assert settings["tta"] is True and tuple(settings["mirror_axes"]) == (0, 1)


def test_a_model_without_default_tta_runs_unmirrored_and_a_click_overrides_it(qtbot, kneeseg_home, opened) -> None:
    install_model("plain-2d", default_tta=False)
    select_and_segment(qtbot, opened, "plain-2d")
    assert not opened.run_panel.tta.isChecked()
    assert opened.session.result.settings["tta"] is False
    qtbot.mouseClick(opened.run_panel.tta, Qt.MouseButton.LeftButton)  # the user asks for mirroring
    assert opened.run_panel.options().tta is True
    opened.session.set_result(None)
    qtbot.mouseClick(opened.run_panel.segment, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: opened.session.result is not None, timeout=30000)
    assert opened.session.result.settings["tta"] is True


def test_choosing_another_model_shows_that_models_default(qtbot, kneeseg_home, window) -> None:
    install_model("mirrored-2d", default_tta=True)
    install_model("plain-2d", default_tta=False)
    window.refresh_models()
    qtbot.waitUntil(lambda: window.models.find("plain-2d") is not None, timeout=5000)
    window.models.select("mirrored-2d")
    assert window.run_panel.tta.isChecked() and window.run_panel.options().tta is None
    window.models.select("plain-2d")
    assert not window.run_panel.tta.isChecked() and window.run_panel.options().tta is None


def test_the_threads_box_shows_the_threads_a_run_really_uses(qtbot, kneeseg_home, opened) -> None:
    box = opened.run_panel.threads
    box.setValue(0)
    assert box.text() == f"automatic ({default_threads()})"
    install_model("plain-2d")
    select_and_segment(qtbot, opened, "plain-2d")
    assert opened.session.result.settings["threads"] == default_threads()


def test_the_batch_dialog_runs_each_model_with_its_own_default_tta(kneeseg_home) -> None:
    from kneeseg_app.core.model.package import load_model_package
    from kneeseg_app.ui.controllers.batch_controller import _engine_segment
    from kneeseg_app.ui.controllers.segmentation import RunOptions, model_default_tta

    mirrored = load_model_package(install_model("mirrored-2d", default_tta=True))
    plain = load_model_package(install_model("plain-2d", default_tta=False))
    assert model_default_tta(mirrored) and not model_default_tta(plain)
    segment = _engine_segment(RunOptions())  # what the window hands the batch dialog by default
    import numpy as np

    from kneeseg_app.core.volume import Volume

    ct = Volume(np.full((4, 64, 64), 500, np.int16), (2.0, 1.0, 1.0))
    from kneeseg_app.core.progress import CancelToken, no_progress

    assert segment(mirrored, ct, no_progress, CancelToken()).settings["tta"] is True
    assert segment(plain, ct, no_progress, CancelToken()).settings["tta"] is False


def test_overlay_names_come_from_the_model_that_made_the_result(qtbot, kneeseg_home, opened) -> None:
    install_model("named-2d", names={"1": "Femur", "2": "Tibia"})
    install_model("plain-2d")
    select_and_segment(qtbot, opened, "named-2d")
    opened.models.select("plain-2d")  # another model chosen after the run
    opened.session.set_result(opened.session.result, "named-2d")  # e.g. a re-draw after an edit
    assert opened.viewer_state.label_names == {1: "Femur", 2: "Tibia"}
