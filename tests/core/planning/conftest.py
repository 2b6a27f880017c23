"""Phantom knees with their truth, shared by the planning tests (drawn once per session)."""

from __future__ import annotations

import pytest
from planning_phantoms import knee_phantom


@pytest.fixture(scope="session")
def oa_flexed_rotated():
    """One osteoarthritic right or left knee, 20 deg flexion, turned 25 deg outwards."""
    return knee_phantom(11, both=False, oa=True, flexion=20.0, rotation=25.0, size=300)


@pytest.fixture(scope="session")
def two_knees():
    """Both knees, healthy, slightly flexed."""
    return knee_phantom(21, both=True, oa=False, flexion=5.0, rotation=None, size=480)
