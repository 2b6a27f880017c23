"""Helpers of the packaging tests: the packaging scripts as modules, and a fresh user's environment."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGING = REPO_ROOT / "packaging"


def load_packaging_script(name: str) -> ModuleType:
    """Import ``packaging/<name>.py`` (a script folder, not a package) under a private name."""
    module_name = f"kneeseg_packaging_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, PACKAGING / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user on a fresh PC: own home folder, no KneeSeg variables, offscreen Qt."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KNEESEG_", "XDG_", "PYTHON"))}
    env.update(HOME=str(home), USERPROFILE=str(home), LOCALAPPDATA=str(home / "AppData" / "Local"))
    env.update(QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1", **extra)
    return env


def user_cache_dir(home: Path) -> Path:
    """Where KneeSeg's per-user cache lives for a user whose home is ``home`` (see core/paths.py)."""
    if sys.platform == "win32":
        return home / "AppData" / "Local" / "KneeSeg" / "cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "KneeSeg"
    return home / ".cache" / "kneeseg"
