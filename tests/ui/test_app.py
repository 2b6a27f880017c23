"""Starting the window: display detection without Qt, a quick start, the icon, Qt guards."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kneeseg_app.ui.app import display_available
from kneeseg_app.ui.display import display_available as display_check

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "env, platform, expected",
    [
        ({}, "linux", False),
        ({"DISPLAY": ":0"}, "linux", True),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", True),
        ({"DISPLAY": ""}, "linux", False),
        ({}, "win32", True),
        ({}, "darwin", True),
    ],
)
def test_display_detection_follows_the_environment(env, platform, expected) -> None:
    assert display_check(env, platform, find_library=lambda name: f"lib{name}.so")[0] is expected


def test_an_x_display_without_the_libraries_qt_needs_gives_the_reason() -> None:
    available, reason = display_check(
        {"DISPLAY": ":0"}, "linux", find_library=lambda name: None if name == "xcb-cursor" else "x"
    )
    assert not available and "libxcb-cursor0" in reason
    available, reason = display_check({}, "linux")
    assert not available and "no display" in reason


@pytest.mark.parametrize("library, package", [("xcb-icccm", "libxcb-icccm4"), ("xkbcommon-x11", "libxkbcommon-x11-0")])
def test_each_missing_xcb_library_is_named_with_its_package(library: str, package: str) -> None:
    available, reason = display_check(
        {"DISPLAY": ":0"}, "linux", find_library=lambda name: None if name == library else "x"
    )
    assert not available and f"sudo apt install {package}" in reason
    assert "libxcb-cursor0" not in reason  # only what is missing


def test_the_boolean_check_agrees_with_this_machine() -> None:
    assert display_available() is display_check()[0]


def _run(code: str, timeout: int = 60, **extra_env: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "QT_QPA_PLATFORM": "offscreen", **extra_env}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        env=env,
        cwd=REPO,
        timeout=timeout,
    )


def test_checking_for_a_display_loads_no_qt() -> None:
    out = _run(
        "import sys; from kneeseg_app.ui.app import display_available; display_available(); "
        "import kneeseg_app.ui.display; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'shiboken6')))"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_window_starts_quickly_without_loading_the_engine_and_quits_cleanly(tmp_path) -> None:
    code = (
        "import sys, time; t = time.perf_counter()\n"
        "from PySide6.QtCore import QTimer\n"
        "from kneeseg_app.ui import app\n"
        "def report():\n"
        "    print('shown', round(time.perf_counter() - t, 2), 'onnxruntime' in sys.modules, 'SimpleITK' in sys.modules, flush=True)\n"
        "orig = app.create_application\n"
        "def create(argv):\n"
        "    a = orig(argv); QTimer.singleShot(0, report); return a\n"
        "app.create_application = create\n"
        "sys.exit(app.run_app([], open_demo=False, exit_after_s=0.5))\n"
    )
    out = _run(code, KNEESEG_HOME=str(tmp_path))
    assert out.returncode == 0, out.stderr[-2000:]
    words = out.stdout.split()
    assert words[0] == "shown" and float(words[1]) < 10.0
    assert words[2:] == ["False", "False"]  # heavy modules load when first needed


def test_the_icon_is_drawn_and_shipped(qapp) -> None:
    from kneeseg_app.ui.widgets.icons import draw_icon, icon_path, svg_text

    image = draw_icon(64)
    assert image.width() == 64 and not image.isNull()
    colors = {image.pixelColor(x, y).name() for x in range(0, 64, 4) for y in range(0, 64, 4)}
    assert len(colors) > 3
    assert icon_path().is_file()
    assert svg_text().startswith("<svg") and "path" in svg_text()


def test_thousands_of_signal_emits_do_not_abort_the_app() -> None:
    # PySide6 6.12.0 drops a reference to True per emit; without the guard in
    # create_application this process would abort with "deallocating True".
    code = (
        "from PySide6.QtCore import QObject, Signal\n"
        "from kneeseg_app.ui.app import create_application\n"
        "app = create_application([])\n"
        "class Pinger(QObject):\n"
        "    ping = Signal()\n"
        "p = Pinger()\n"
        "for _ in range(5000): p.ping.emit()\n"
        "import gc; gc.collect(); print('ok')\n"
    )
    out = _run(code)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-500:]
