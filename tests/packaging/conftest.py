"""Fixtures of the packaging tests: ``packaging/build.py`` and the frozen entry script as modules."""

from __future__ import annotations

from types import ModuleType

import pytest
from packaging_helpers import load_packaging_script


@pytest.fixture(scope="session")
def build_script() -> ModuleType:
    return load_packaging_script("build")


@pytest.fixture(scope="session")
def entry_script() -> ModuleType:
    return load_packaging_script("kneeseg_entry")
