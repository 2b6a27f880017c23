"""Where KneeSeg finds its bundled resources and keeps per-user files.

Follows platform conventions without extra dependencies: ``%LOCALAPPDATA%`` on
Windows, ``~/Library/Application Support`` on macOS, XDG on Linux. Works frozen
(PyInstaller puts data under ``sys._MEIPASS``) and from a source checkout. The
per-user folders can be redirected with ``KNEESEG_HOME`` (tests, portable installs).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

APP_DIR_NAME = "KneeSeg"


def resources_dir() -> Path:
    """The read-only ``resources/`` folder shipped with the app."""
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def bundled_models_dir() -> Path:
    """Model packages shipped with the app (read-only)."""
    return resources_dir() / "models"


def _user_base(kind: str) -> Path:
    override = os.environ.get("KNEESEG_HOME")
    if override:
        return Path(override) / kind
    home = Path.home()
    if sys.platform == "win32":
        root = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
        return root / APP_DIR_NAME / kind
    if sys.platform == "darwin":
        base = home / "Library" / ("Caches" if kind == "cache" else "Application Support")
        return base / APP_DIR_NAME / ("" if kind == "cache" else kind)
    xdg = {"cache": "XDG_CACHE_HOME", "data": "XDG_DATA_HOME", "config": "XDG_CONFIG_HOME"}[kind]
    default = {"cache": ".cache", "data": ".local/share", "config": ".config"}[kind]
    return Path(os.environ.get(xdg) or home / default) / "kneeseg"


def user_data_dir() -> Path:
    """Per-user writable data folder (models the user added live below it)."""
    return _user_base("data")


def user_models_dir() -> Path:
    """Per-user models folder: every sub-folder holding a ``manifest.json`` is a model."""
    return user_data_dir() / "models"


def user_cache_dir() -> Path:
    """Per-user cache (the generated demo case lives here); safe to delete."""
    return _user_base("cache")


def user_config_dir() -> Path:
    """Per-user settings."""
    return _user_base("config")
