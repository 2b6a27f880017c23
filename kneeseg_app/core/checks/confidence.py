"""The network's own confidence: how sure it was of the class it chose, where it matters.

The engine records, for every voxel, the top-class softmax probability as a byte
(0 = 0.0, 255 = 1.0; voxels the network never looked at are 255). Averaged over the
whole CT this number is always near 1 (air is easy), so it is averaged over the voxels
that matter: those labelled bone and those where the network hesitated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.checks.outcome import CheckResult, Status

LOW_PROBABILITY = 0.75
"""A voxel whose chosen class has less probability than this counts as 'low confidence'."""
MEAN_LIMITS = {"warn": 0.85, "fail": 0.7}
LOW_SHARE_LIMITS = {"warn": 0.25, "fail": 0.5}
"""Low-confidence volume as a share of the labelled bone volume."""
_SLAB = 32


@dataclass(frozen=True)
class ConfidenceSummary:
    """The numbers the confidence check and the report use."""

    mean_top_probability: float
    """Mean top-class probability over labelled bone and low-confidence voxels."""
    low_confidence_ml: float
    """Volume whose top-class probability is below :data:`LOW_PROBABILITY`."""
    bone_ml: float
    worst_slices: tuple[int, ...]
    """Slices holding the most low-confidence voxels (at most 10)."""

    def as_dict(self) -> dict[str, object]:
        return {
            "mean_top_probability": round(self.mean_top_probability, 4),
            "low_confidence_ml": round(self.low_confidence_ml, 2),
            "low_probability_threshold": LOW_PROBABILITY,
            "bone_ml": round(self.bone_ml, 2),
            "worst_slices": list(self.worst_slices),
        }


def top_probability_bytes(probability: np.ndarray) -> np.ndarray:
    """Probabilities in [0, 1] as the engine stores them: one byte per voxel."""
    return np.clip(np.rint(np.asarray(probability, dtype=np.float32) * 255.0), 0, 255).astype(np.uint8)


def summarize_confidence(top_bytes: np.ndarray, labels: np.ndarray, voxel_ml: float) -> ConfidenceSummary:
    """Summarise a top-class probability map (bytes) against its label map, slab by slab (bounded memory)."""
    if top_bytes.shape != labels.shape:
        raise ValueError(f"confidence map {top_bytes.shape} and label map {labels.shape} differ in shape")
    low_byte = int(np.ceil(LOW_PROBABILITY * 255.0))
    total = 0.0
    count = 0
    bone = 0
    low_per_slice = np.zeros(labels.shape[0], dtype=np.int64)
    for start in range(0, labels.shape[0], _SLAB):
        top = top_bytes[start : start + _SLAB]
        lab = labels[start : start + _SLAB]
        low = top < low_byte
        low_counts = np.count_nonzero(low.reshape(low.shape[0], -1), axis=1)
        low_per_slice[start : start + _SLAB] = low_counts
        has_bone = lab.reshape(lab.shape[0], -1).max(axis=1) > 0
        if has_bone.any():  # only slices with bone need the combined mask
            matters = low[has_bone] | (lab[has_bone] > 0)
            bone += int(np.count_nonzero(lab[has_bone]))
            count += int(np.count_nonzero(matters))
            total += float(top[has_bone][matters].sum(dtype=np.int64))
        rest = ~has_bone & (low_counts > 0)
        if rest.any():
            count += int(low_counts[rest].sum())
            total += float(top[rest][low[rest]].sum(dtype=np.int64))
    mean = total / count / 255.0 if count else 1.0
    ranked = np.argsort(-low_per_slice, kind="stable")[:10]
    worst = tuple(sorted(int(s) for s in ranked if low_per_slice[s] > 0))
    return ConfidenceSummary(mean, float(low_per_slice.sum()) * voxel_ml, bone * voxel_ml, worst)


def check_confidence(summary: ConfidenceSummary | None) -> CheckResult:
    """Warn or fail when the network itself was unsure of much of what it labelled."""
    title = "Model confidence"
    if summary is None:
        return CheckResult(
            "confidence",
            title,
            Status.PASS,
            "The model's confidence was not recorded for this result.",
            details={"recorded": False},
        )
    share = summary.low_confidence_ml / summary.bone_ml if summary.bone_ml > 0 else 0.0
    details = {"recorded": True, **summary.as_dict(), "low_confidence_share": round(share, 4)}
    mean = summary.mean_top_probability
    if mean < MEAN_LIMITS["fail"] or share > LOW_SHARE_LIMITS["fail"]:
        status = Status.FAIL
    elif mean < MEAN_LIMITS["warn"] or share > LOW_SHARE_LIMITS["warn"]:
        status = Status.WARN
    else:
        status = Status.PASS
    numbers = f"mean certainty {mean:.0%}, {summary.low_confidence_ml:.1f} mL uncertain"
    if status is Status.PASS:
        message = f"The model was confident of its result ({numbers})."
    else:
        message = f"The model was unsure of much of its result ({numbers}, {share:.0%} of the bone volume): check it slice by slice."
    slices = summary.worst_slices if status is not Status.PASS else ()
    return CheckResult("confidence", title, status, message, slices, details)
