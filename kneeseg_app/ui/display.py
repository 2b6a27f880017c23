"""Can a window be shown here? Decided WITHOUT importing Qt.

Qt aborts the whole process (not an exception) when its platform plugin cannot start,
so ``kneeseg demo`` asks here first and falls back to the headless demo with the
reason in one line. Checks: a display (X11 / Wayland) on Linux, or an explicit
``QT_QPA_PLATFORM`` such as ``offscreen``; on X11 also the system libraries Qt's xcb
plugin needs since Qt 6.5 (often missing on minimal Linux installs).
"""

from __future__ import annotations

import ctypes.util
import os
import sys
from collections.abc import Callable, Mapping

XCB_LIBRARIES = {"xcb-cursor": "libxcb-cursor0", "xcb-icccm": "libxcb-icccm4", "xkbcommon-x11": "libxkbcommon-x11-0"}
"""Libraries the Qt 6 xcb plugin loads (name for find_library -> Debian/Ubuntu package)."""
_HEADLESS_PLATFORMS = ("offscreen", "minimal", "vnc", "eglfs", "linuxfb")


def display_available(
    env: Mapping[str, str] | None = None,
    platform: str | None = None,
    find_library: Callable[[str], str | None] = ctypes.util.find_library,
) -> tuple[bool, str]:
    """(True, "") when the window can open, else (False, one-line reason)."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    qpa = env.get("QT_QPA_PLATFORM", "").strip().lower()
    if qpa.startswith(_HEADLESS_PLATFORMS):
        return True, ""
    if platform in ("win32", "darwin"):
        return True, ""
    if env.get("WAYLAND_DISPLAY"):
        return True, ""
    if not env.get("DISPLAY"):
        return False, "no display is available (DISPLAY and WAYLAND_DISPLAY are not set)"
    if getattr(sys, "frozen", False):
        return True, ""  # a frozen app ships its own libraries
    missing = [package for lib, package in XCB_LIBRARIES.items() if not find_library(lib)]
    if missing:
        return False, (
            f"the X display cannot be used: Qt's xcb plugin needs {', '.join(missing)} "
            f"(Debian/Ubuntu: sudo apt install {' '.join(missing)})"
        )
    return True, ""
