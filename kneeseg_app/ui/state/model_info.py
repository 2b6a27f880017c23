"""Facts about a model package for people (lists, tooltips, batch tables). Qt-free.

Read from the typed manifest only: a package reaches the window through
:func:`kneeseg_app.core.model.package.load_model_package`, whose strict parser has already
refused anything half-filled, so there is no second, untyped way to read a manifest here.
"""

from __future__ import annotations

from collections.abc import Mapping

from kneeseg_app.core.model.package import ModelPackage


def label_names(package: ModelPackage) -> dict[int, str]:
    """Foreground label value -> bone name."""
    return dict(package.label_names)


def not_for_clinical_use(package: ModelPackage) -> bool:
    return package.not_for_clinical_use


def _per_bone(values: Mapping[str, float], digits: int) -> str:
    return ", ".join(f"{bone} {float(v):.{digits}f}" for bone, v in values.items())


def model_facts(package: ModelPackage) -> list[tuple[str, str]]:
    """(label, text) pairs a surgeon or engineer needs to judge a model; empty facts left out."""
    m = package.manifest
    spacing = m.input.target_spacing
    facts = [
        ("Name", f"{m.name} {m.version}".strip()),
        ("Family", m.family),
        ("Description", m.description),
        ("Labels", ", ".join(name for _, name in sorted(package.label_names.items()))),
        ("Spacing", " x ".join(f"{s:g}" for s in spacing) + " mm" if spacing else "?"),
        ("Training data", m.training.data or "?"),
    ]
    if m.training.cases:
        facts.append(("Training cases", str(m.training.cases)))
    validation = m.validation
    if validation.dice:
        facts.append(("Validation Dice", _per_bone(validation.dice, 3)))
    if validation.hd95_mm:
        facts.append(("Validation HD95", _per_bone(validation.hd95_mm, 2) + " mm"))
    if validation.cases:
        facts.append(("Validation cases", str(validation.cases)))
    facts.append(("Licence", m.license or "?"))
    facts.append(("Folder", str(package.path)))
    return [(k, v) for k, v in facts if v]


def model_name(package: ModelPackage) -> str:
    """The package's unique name (from its manifest, which never has an empty one)."""
    return package.name
