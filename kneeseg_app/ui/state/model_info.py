"""Facts about a model package for people (lists, tooltips, batch tables). Qt-free.

Reads the manifest defensively (dataclass or dict) so a half-filled manifest still
shows what it has instead of breaking the model list.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def manifest_value(obj: Any, *keys: str, default: Any = None) -> Any:
    """Nested manifest lookup working for dataclasses and dicts alike."""
    for key in keys:
        if obj is None:
            return default
        obj = obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)
    return default if obj is None else obj


def label_names(package: Any) -> dict[int, str]:
    names = getattr(package, "label_names", None) or manifest_value(package, "manifest", "labels", default={})
    if isinstance(names, (list, tuple)):
        names = dict(enumerate(names))
    return {int(k): str(v) for k, v in dict(names).items()}


def not_for_clinical_use(package: Any) -> bool:
    flag = getattr(package, "not_for_clinical_use", None)
    if flag is None:
        flag = not bool(manifest_value(package, "manifest", "clinical_use", default=False))
    return bool(flag)


def _per_bone(value: Any, digits: int) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{bone} {float(v):.{digits}f}" for bone, v in value.items())
    return "" if value is None else str(value)


def model_facts(package: Any) -> list[tuple[str, str]]:
    """(label, text) pairs a surgeon or engineer needs to judge a model."""
    m = manifest_value(package, "manifest")
    spacing = manifest_value(m, "input", "target_spacing", default=())
    facts = [
        ("Name", f"{manifest_value(m, 'name', default='?')} {manifest_value(m, 'version', default='')}".strip()),
        ("Family", str(manifest_value(m, "family", default="?"))),
        ("Description", str(manifest_value(m, "description", default=""))),
        ("Labels", ", ".join(v for k, v in sorted(label_names(package).items()) if k != 0)),
        ("Spacing", " x ".join(f"{float(s):g}" for s in spacing) + " mm" if spacing else "?"),
        ("Training data", str(manifest_value(m, "training", "data", default="?"))),
    ]
    cases = manifest_value(m, "training", "cases")
    if cases:
        facts.append(("Training cases", str(cases)))
    validation = manifest_value(m, "validation")
    if validation:
        facts.append(("Validation Dice", _per_bone(manifest_value(validation, "dice"), 3)))
        if manifest_value(validation, "hd95_mm"):
            facts.append(("Validation HD95", _per_bone(manifest_value(validation, "hd95_mm"), 2) + " mm"))
        if manifest_value(validation, "cases"):
            facts.append(("Validation cases", str(manifest_value(validation, "cases"))))
    facts.append(("Licence", str(manifest_value(m, "license", default="?"))))
    facts.append(("Folder", str(manifest_value(package, "path", default=""))))
    return [(k, v) for k, v in facts if v]


def model_name(package: Any) -> str:
    """The package's unique name (its folder name if the manifest has none)."""
    name = manifest_value(package, "manifest", "name") or getattr(package, "name", None)
    return str(name or Path(str(getattr(package, "path", "model"))).name)
