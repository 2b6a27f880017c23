"""Can a window be shown here? Answered without loading Qt.

Qt aborts the whole process when its platform plugin finds no display; the run
command must instead say so in one line and fall back to the headless demo.
"""

from __future__ import annotations

import os
import sys


def display_available() -> tuple[bool, str]:
    """``(True, "")`` when a window can be opened, else ``(False, reason for a person)``."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform.startswith(("offscreen", "minimal", "vnc")):
        return True, ""
    if sys.platform in ("win32", "darwin"):
        return True, ""
    if os.environ.get("WAYLAND_DISPLAY") or os.environ.get("DISPLAY"):
        return True, ""
    return False, "no display found (DISPLAY and WAYLAND_DISPLAY are not set)"
