"""The headless core and the CLI never load Qt, torch, nnU-Net or the trainer.

napari-style rule: checked in a fresh interpreter so that nothing imported by other
tests can hide a violation.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "kneeseg_app"
FORBIDDEN = ("PySide6", "pyqtgraph", "torch", "nnunetv2", "trainer", "shiboken6")


def _modules_loaded_by(import_line: str) -> set[str]:
    code = f"import sys; {import_line}; print('\\n'.join(sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        check=True,
        cwd=APP.parent,
    )
    return {name.split(".")[0] for name in out.stdout.split()}


@pytest.mark.parametrize(
    "import_line",
    [
        "import kneeseg_app.core",
        "import kneeseg_app.cli",
        "import kneeseg_app.core.dicom, kneeseg_app.core.imageio, kneeseg_app.core.metrics",
        "import kneeseg_app.core.inference.engine, kneeseg_app.core.model.package, kneeseg_app.core.phantom",
        "import kneeseg_app.core.model.discovery, kneeseg_app.core.model.manifest, kneeseg_app.core.mesh",
    ],
)
def test_core_and_cli_load_no_qt_and_no_torch(import_line: str) -> None:
    loaded = _modules_loaded_by(import_line)
    assert not loaded & set(FORBIDDEN), f"{import_line} loaded {sorted(loaded & set(FORBIDDEN))}"


def _imported_top_level_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_no_app_module_imports_the_trainer_or_torch() -> None:
    offenders = {}
    for path in APP.rglob("*.py"):
        bad = _imported_top_level_names(path) & {"trainer", "torch", "nnunetv2"}
        if bad:
            offenders[str(path.relative_to(APP.parent))] = sorted(bad)
    assert not offenders


def test_only_the_ui_package_imports_qt() -> None:
    offenders = [
        str(path.relative_to(APP.parent))
        for path in APP.rglob("*.py")
        if "ui" not in path.relative_to(APP).parts[:1]
        and _imported_top_level_names(path) & {"PySide6", "pyqtgraph", "shiboken6"}
    ]
    assert not offenders
