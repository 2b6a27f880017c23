"""Agreement per side: a two-knee result is compared with a two-knee reference knee by knee.

One Dice over both femurs hides a poor knee behind a good one; when both label maps hold
two knees, each bone is scored per side (``right femur``, ``left femur``, ...) on the
part maps of :func:`kneeseg_app.core.sides.split_sides`. Otherwise bones are scored as
the label map has them.
"""

from __future__ import annotations

from collections.abc import Mapping

from kneeseg_app.core.labels import LEFT, SIDES, names_or_default
from kneeseg_app.core.metrics.scores import BoneMetrics, compute_metrics
from kneeseg_app.core.sides import LEFT_CODE_OFFSET, split_sides
from kneeseg_app.core.volume import Volume


def metrics_per_side(
    prediction: Volume, reference: Volume, label_names: Mapping[int, str] | Mapping[str, str] | None = None
) -> dict[str, BoneMetrics]:
    """Metrics keyed 'right femur', 'left femur', ... when both maps hold two knees, else 'femur', 'tibia'."""
    names = names_or_default(label_names)
    ours, theirs = split_sides(prediction, names), split_sides(reference, names)
    if ours.knees != 2 or theirs.knees != 2:
        return compute_metrics(prediction.array, reference.array, prediction.spacing_zyx, names)
    sided = {
        label + (LEFT_CODE_OFFSET if side == LEFT else 0): f"{side} {bone}"
        for side in SIDES
        for label, bone in sorted(names.items())
    }
    return compute_metrics(
        ours.part_labels(prediction).array, theirs.part_labels(reference).array, prediction.spacing_zyx, sided
    )
