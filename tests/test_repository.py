"""The repository tests itself anywhere: no data from outside it, no silent skips under ``make test``."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
REPO_ROOT = TESTS.parent


def _root_conftest():
    """tests/conftest.py itself (``import conftest`` could find another package's conftest)."""
    spec = importlib.util.spec_from_file_location("kneeseg_root_conftest", TESTS / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ROOT = _root_conftest()
REAL_DICOM, REQUIRE_TRAIN, _import_or_fail = ROOT.REAL_DICOM, ROOT.REQUIRE_TRAIN, ROOT._import_or_fail
OUTSIDE = re.compile(r"\.\./shared|/work/shared|parents\[\d\]\s*/\s*[\"']shared[\"']")


def test_no_test_reads_data_from_outside_the_repository() -> None:
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in TESTS.rglob("*.py")
        if path != Path(__file__) and OUTSIDE.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_the_real_dicom_cases_live_inside_the_repository() -> None:
    assert REAL_DICOM.resolve().is_relative_to(REPO_ROOT.resolve())
    assert (REAL_DICOM / "README.md").is_file()


def test_make_test_requires_the_training_stack() -> None:
    recipe = (REPO_ROOT / "Makefile").read_text(encoding="utf-8").split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert f"{REQUIRE_TRAIN}=1" in recipe and "pytest tests" in recipe


def test_a_missing_dependency_fails_instead_of_skipping_when_required() -> None:
    with pytest.raises(pytest.fail.Exception, match="kneeseg_no_such_module.*train"):
        _import_or_fail(pytest.importorskip)("kneeseg_no_such_module")


def test_test_modules_have_unique_names() -> None:
    """pytest imports test modules by their file name (rootdir-less 'prepend' mode): two
    ``test_export.py`` in different folders would stop the whole run at collection."""
    names = [path.name for path in TESTS.rglob("test_*.py") if "data" not in path.relative_to(TESTS).parts]
    assert sorted({n for n in names if names.count(n) > 1}) == []
