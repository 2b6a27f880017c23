"""The model list: found packages, unusable ones with their reason, the remembered choice.

No widgets. Packages come from the engine's discovery (bundled and per-user folders);
"Add model" validates a package folder and copies it into the per-user models folder.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from kneeseg_app.core import paths
from kneeseg_app.core.errors import ModelError
from kneeseg_app.ui.state.model_info import model_name


@dataclass(frozen=True)
class ModelEntry:
    """One line of the model list."""

    name: str
    path: Path
    package: Any | None = None
    reason: str = ""
    """Why the model cannot be used (empty when usable)."""

    @property
    def usable(self) -> bool:
        return self.package is not None


class ModelsController(QObject):
    """Discovers models, remembers the selection, adds packages to the per-user folder."""

    listChanged = Signal()
    selectionChanged = Signal(object)  # ModelEntry | None

    def __init__(self, remember: Callable[[str], None] | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.entries: list[ModelEntry] = []
        self.selected: ModelEntry | None = None
        self._remember = remember or (lambda name: None)

    @property
    def package(self) -> Any | None:
        return self.selected.package if self.selected is not None and self.selected.usable else None

    def refresh(self, preferred: str = "") -> None:
        """Rescan the model folders; keep (or restore) the selection by name."""
        from kneeseg_app.core.model.discovery import discover_models

        found = discover_models()
        entries = [ModelEntry(model_name(p), Path(p.path), p) for p in found.models]
        for path, reason in found.rejected:
            entries.append(ModelEntry(Path(path).name, Path(path), None, str(reason)))
        self.entries = entries
        self.listChanged.emit()
        wanted = preferred or (self.selected.name if self.selected else "")
        self.select(wanted if self.find(wanted) else self.default_name(), remember=False)

    def default_name(self) -> str:
        """The engine's default model when usable, else the first usable one."""
        try:
            from kneeseg_app.core.model.discovery import find_model

            name = model_name(find_model(None))
            if self.find(name):
                return name
        except Exception:  # noqa: BLE001 - no default model is a normal state, not an error
            pass
        usable = [e for e in self.entries if e.usable]
        return usable[0].name if usable else ""

    def find(self, name: str) -> ModelEntry | None:
        return next((e for e in self.entries if e.name == name and e.usable), None) if name else None

    def select(self, name: str, remember: bool = True) -> None:
        entry = self.find(name)
        self.selected = entry
        if entry is not None and remember:
            self._remember(entry.name)
        self.selectionChanged.emit(entry)

    def add_package(self, folder: str | Path) -> ModelEntry:
        """Validate a package folder and copy it into the per-user models folder."""
        from kneeseg_app.core.model.package import load_model_package

        folder = Path(folder)
        if folder.is_file() and folder.name == "manifest.json":
            folder = folder.parent
        package = load_model_package(folder)  # raises ModelError with the reason
        name = model_name(package)
        target_root = paths.user_models_dir()
        target = target_root / name
        if target.exists():
            raise ModelError(f"A model named {name} is already installed in {target_root}; remove it first.")
        if folder.resolve() == target.resolve() or target_root.resolve() in folder.resolve().parents:
            raise ModelError(f"{folder} is already in the models folder.")
        target_root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=target_root))
        try:
            shutil.copytree(folder, staging / name)
            load_model_package(staging / name)  # the copy is complete and valid
            (staging / name).rename(target)
        except OSError as exc:
            raise ModelError(f"Cannot copy the model into {target_root}: {exc.strerror or exc}.") from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        self.refresh(preferred=name)
        self.select(name)
        return self.find(name) or ModelEntry(name, target, None, "not found after copying")
