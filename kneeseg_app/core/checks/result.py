"""Quality checks of one segmentation, without a reference: does this look like a knee's femur and tibia?

A surgeon has no ground truth; these checks read the CT, the label map and the
network's confidence and say, check by check, whether the result can be trusted.
They never raise on a bad result (the result is still shown, with its failures).
"""

from __future__ import annotations

import time

import numpy as np

from kneeseg_app.core.checks.bone_checks import (
    check_continuity,
    check_density,
    check_edges,
    check_inside_body,
    check_knee_found,
    check_volume,
)
from kneeseg_app.core.checks.confidence import ConfidenceSummary, check_confidence, summarize_confidence
from kneeseg_app.core.checks.layout_checks import LegSides, check_components, check_joint
from kneeseg_app.core.checks.measure import in_plane_step, measure_bones
from kneeseg_app.core.checks.outcome import CheckResult, QualityReport, Status
from kneeseg_app.core.sides import SideSplit, side_decision
from kneeseg_app.core.volume import Volume

CHECK_ORDER = (
    "knee_found",
    "volume",
    "density",
    "continuity",
    "image_edge",
    "inside_body",
    "components",
    "joint",
    "confidence",
)
"""Every check id, in the order they are shown and reported."""


def check_result(
    ct: Volume,
    labels: Volume | np.ndarray,
    label_names: dict[int, str],
    top_probability: np.ndarray | None = None,
    no_knee: str = "",
    sides: SideSplit | None = None,
) -> QualityReport:
    """Run every result check.

    ``label_names`` maps label values to bone names (the model's, background left out);
    ``top_probability`` is the engine's byte map of top-class probabilities, or None
    when the result did not come from the network (then confidence is not judged);
    ``no_knee`` is why the post-processing discarded every label (the result's ``no_knee``);
    ``sides`` is the caller's per-side split of these labels (what the report and window
    say: 'Knee: right'), so the checks name legs alike; without it they decide by the same
    rule (:func:`kneeseg_app.core.sides.side_decision`).
    """
    started = time.perf_counter()
    array = labels.array if isinstance(labels, Volume) else labels
    if array.shape != ct.shape:
        raise ValueError(f"label map {array.shape} is not on the CT's grid {ct.shape}")
    bones = measure_bones(ct, array, label_names)
    summary: ConfidenceSummary | None = None
    if top_probability is not None:
        step = in_plane_step(ct.spacing_zyx)  # as the bones are measured: fine pixels are sampled
        summary = summarize_confidence(
            top_probability[:, ::step, ::step], array[:, ::step, ::step], ct.voxel_volume_ml * step * step
        )
    checks: list[CheckResult] = [check_knee_found(bones, no_knee)]
    if any(b.present for b in bones):
        voxel_height_mm = float(np.max(np.abs(ct.direction[2, :]) * np.asarray(ct.spacing_xyz)))
        legs = LegSides.of(sides) if sides is not None else _leg_sides(ct, array)
        checks += [
            check_volume(bones, voxel_height_mm),
            check_density(bones),
            check_continuity(bones),
            check_edges(bones),
            check_inside_body(bones),
            check_components(bones, legs),
            check_joint(bones, legs),
        ]
    checks.append(check_confidence(summary))
    return QualityReport(tuple(checks), time.perf_counter() - started)


def _leg_sides(ct: Volume, labels: np.ndarray) -> LegSides:
    """The sides as :func:`~kneeseg_app.core.sides.split_sides` decides them for ``labels`` on ``ct``'s grid."""
    midline, decision = side_decision(ct.with_array(labels), ct=ct)
    return LegSides(midline, decision.side)


def summary_line(report: QualityReport) -> str:
    """One line for the top of a result: how many checks passed, and the verdict."""
    n_fail, n_warn = len(report.failed), len(report.warned)
    if report.status is Status.FAIL:
        return f"Do not trust this result: {n_fail} check(s) failed" + (f", {n_warn} warning(s)." if n_warn else ".")
    if report.status is Status.WARN:
        return f"Check this result: {n_warn} warning(s), no check failed."
    return f"All {len(report.checks)} checks passed."
