"""Test-session set-up shared by all test packages.

* Per-user folders (models, cache, settings) go to a throw-away ``KNEESEG_HOME`` so a
  test run never reads or writes the developer's real ones; the run that made it removes
  it at the end (each run's model cache is ~130 MB: left behind, hundreds of runs filled
  the CI machine's disk).
* ``real_dicom`` points at the project's real CT DICOM cases, copied into
  ``tests/data/real-dicom`` (with their licences); tests that use it fail (never skip)
  when it is missing, as CI must have it.
* ``KNEESEG_REQUIRE_TRAIN=1`` (set by ``make test``) turns every ``pytest.importorskip``
  into a failure: the nnU-Net parity tests and the trainer's tests must run there, and a
  missing ``[train]`` extra must turn the run red, not quietly skip them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REAL_DICOM = REPO_ROOT / "tests" / "data" / "real-dicom"
REQUIRE_TRAIN = "KNEESEG_REQUIRE_TRAIN"


def _import_or_fail(importorskip):
    """``pytest.importorskip`` that fails, naming the module, where the dependencies are required."""

    def import_or_fail(modname: str, *args, **kwargs):
        try:
            return importorskip(modname, *args, **kwargs)
        except pytest.skip.Exception as exc:
            pytest.fail(f"{REQUIRE_TRAIN}=1 but {exc.msg}: install the [train] extra (make test does)", pytrace=False)

    return import_or_fail


if os.environ.get(REQUIRE_TRAIN) == "1":
    pytest.importorskip = _import_or_fail(pytest.importorskip)


_OWN_HOME_KEY = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    if "KNEESEG_HOME" not in os.environ:
        home = Path(tempfile.mkdtemp(prefix="kneeseg-test-home-"))
        os.environ["KNEESEG_HOME"] = str(home)
        config.stash[_OWN_HOME_KEY] = home  # xdist workers inherit the variable: only this process owns it
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_OWN_HOME_KEY, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def real_dicom() -> Path:
    """The folder of real CT DICOM cases (see its README for what each must give)."""
    if not (REAL_DICOM / "README.md").is_file():
        pytest.fail(f"real DICOM test data missing at {REAL_DICOM}", pytrace=False)
    return REAL_DICOM
