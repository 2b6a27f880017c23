"""The anatomy rule with some of its steps switched off, for benchmarks that compare a step side by side
(the network runs once per case, the rule twice, so the two results differ by those steps alone)."""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.inference import bone_layout
from kneeseg_app.core.inference.bone_layout import LayoutResult
from kneeseg_app.core.volume import Volume


def _nothing(*args: object) -> int:
    return 0


def anatomy_rule(raw: np.ndarray, ct: Volume, without: tuple[str, ...] = ()) -> tuple[np.ndarray, LayoutResult]:
    """The rule on a copy of the network's labels ``raw`` (femur 1, tibia 2), with the steps that
    ``bone_layout`` calls by the names in ``without`` doing nothing (restored afterwards)."""
    saved = {name: getattr(bone_layout, name) for name in without}
    for name in without:
        setattr(bone_layout, name, _nothing)
    try:
        labels = raw.copy()
        result = bone_layout.apply_bone_layout(labels, ct, 1, 2)
    finally:
        for name, step in saved.items():
            setattr(bone_layout, name, step)
    return labels, result
