"""Fixtures for the window tests: real widgets offscreen, settings and models in tmp.

* Settings go to an INI file under the test's tmp folder (never the user's).
* Per-user models live under a per-test ``KNEESEG_HOME``; ``threshold_model`` installs
  a real tiny ONNX package there (tests/onnx_factory.py).
* ``RecordingDialogs`` replaces the window's DialogService: it records every message
  and answers questions from a script, so no modal box ever blocks a test.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from kneeseg_app.ui.qt_compat import protect_against_emit_refcount_leak  # noqa: E402

protect_against_emit_refcount_leak()  # PySide6 6.12.0 would abort the test process otherwise

from ui_support import RecordingDialogs, knee_series  # noqa: E402


@pytest.fixture
def kneeseg_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("KNEESEG_HOME", str(home))
    return home


@pytest.fixture
def qsettings(tmp_path: Path):
    from PySide6.QtCore import QSettings

    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "qsettings"))
    return QSettings(str(tmp_path / "kneeseg.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def app_settings(qsettings):
    from kneeseg_app.ui.state.settings import AppSettings

    return AppSettings(qsettings)


@pytest.fixture
def dialogs() -> RecordingDialogs:
    return RecordingDialogs()


@pytest.fixture
def threshold_model(kneeseg_home: Path) -> Path:
    """A real ONNX model package (threshold network) installed in the user's models folder."""
    from onnx_factory import write_model_package

    from kneeseg_app.core import paths

    return write_model_package(
        paths.user_models_dir() / "test-threshold-2d", name="test-threshold-2d", patch_size=(64, 64)
    )


@pytest.fixture
def knee_dicom(tmp_path: Path) -> Path:
    """A small real DICOM CT series of the toy knee (anisotropic: 0.8 x 0.8 x 2 mm)."""
    folder = tmp_path / "knee_ct"
    knee_series().write(folder)
    return folder


@pytest.fixture
def window(qtbot, app_settings, dialogs, kneeseg_home):
    """The real main window, offscreen, with recorded dialogs."""
    from kneeseg_app.ui.app import configure_pyqtgraph
    from kneeseg_app.ui.windows.main_window import MainWindow

    configure_pyqtgraph()
    w = MainWindow(settings=app_settings, dialogs=dialogs)
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    yield w
    for controller in (w.loader, w.segmenter, w.surfaces):
        controller.cancel()
    from kneeseg_app.ui.controllers.workers import task_pool

    task_pool().waitForDone(10000)
