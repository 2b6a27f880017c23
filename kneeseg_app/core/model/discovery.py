"""Finding model packages: the bundled and per-user folders, the default model, a model by name.

One broken package never hides the others: discovery lists it as rejected, with the reason
its loader gave (:func:`kneeseg_app.core.model.package.load_model_package`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from kneeseg_app.core import paths
from kneeseg_app.core.errors import ModelError
from kneeseg_app.core.model.package import ModelPackage, ModelPackageError, load_model_package
from kneeseg_app.core.model.schema import MANIFEST


@dataclass
class Discovery:
    """Models found, and the folders/files that look like models but cannot be used."""

    models: list[ModelPackage] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)

    def by_name(self, name: str) -> ModelPackage | None:
        for model in self.models:
            if model.name == name:
                return model
        lowered = name.lower()
        matches = [m for m in self.models if m.name.lower() == lowered]
        return matches[0] if len(matches) == 1 else None


def _candidates(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if (
            entry.is_dir()
            and ((entry / MANIFEST).is_file() or any(entry.glob("*.onnx")))
            or entry.is_file()
            and entry.suffix.lower() == ".onnx"
        ):
            found.append(entry)
    return found


def discover_models(extra_dirs: Sequence[str | os.PathLike[str]] = ()) -> Discovery:
    """Scan the bundled and per-user model folders (one level deep) and ``extra_dirs``.

    One broken package never hides the others: it is listed in ``rejected`` with why.
    A name already taken by an earlier (bundled first) package is rejected too.
    """
    discovery = Discovery()
    roots: list[tuple[Path, str]] = [(paths.bundled_models_dir(), "bundled"), (paths.user_models_dir(), "user")]
    roots += [(Path(d), "extra") for d in extra_dirs]
    seen: dict[str, Path] = {}
    for root, origin in roots:
        for candidate in _candidates(root):
            try:
                package = load_model_package(candidate, origin=origin)
            except ModelPackageError as exc:
                discovery.rejected.append((candidate, exc.reason))
                continue
            if package.name in seen:
                discovery.rejected.append(
                    (candidate, f"a model named '{package.name}' is already installed at {seen[package.name]}")
                )
                continue
            seen[package.name] = package.path
            discovery.models.append(package)
    return discovery


def default_model(discovery: Discovery) -> ModelPackage:
    """The bundled model marked ``"default": true`` (else the first bundled, else any)."""
    for pool in ([m for m in discovery.models if m.origin == "bundled"], discovery.models):
        if pool:
            marked = [m for m in pool if m.manifest.default]
            return (marked or pool)[0]
    why = (
        f" ({len(discovery.rejected)} package(s) were found but cannot be used; run 'kneeseg models')"
        if discovery.rejected
        else ""
    )
    raise ModelError(f"No segmentation model is installed{why}.")


def find_model(
    name_or_path: str | os.PathLike[str] | None = None, extra_dirs: Sequence[str | os.PathLike[str]] = ()
) -> ModelPackage:
    """The model to use: ``None`` -> the default; an existing path -> that package; else by name."""
    if name_or_path is not None and (
        Path(name_or_path).exists() or os.sep in str(name_or_path) or "/" in str(name_or_path)
    ):
        return load_model_package(name_or_path)
    discovery = discover_models(extra_dirs)
    if name_or_path is None:
        return default_model(discovery)
    found = discovery.by_name(str(name_or_path))
    if found is not None:
        return found
    for path, reason in discovery.rejected:
        if path.name == str(name_or_path):
            raise ModelPackageError(path, reason)
    known = ", ".join(m.name for m in discovery.models) or "none"
    raise ModelError(f"No model named '{name_or_path}' is installed (installed: {known}).")
