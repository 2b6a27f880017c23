"""Input checks before any work: is this a knee CT in Hounsfield units, and does the reference fit the model?

Refusals are one sentence (:class:`NotKneeCTError`, :class:`ReferenceLabelsError`) so
the CLI exits 2 before the network runs: a head CT, an MR volume or a label map given
as the CT would otherwise be "segmented" into hundreds of millilitres of femur.
"""

from __future__ import annotations

import math
import re

import numpy as np

from kneeseg_app.core.errors import InputError, NotKneeCTError, ReferenceLabelsError
from kneeseg_app.core.volume import Volume

NOT_KNEE_BODY_PARTS = frozenset(
    {
        "HEAD",
        "BRAIN",
        "SKULL",
        "FACE",
        "SINUS",
        "ORBIT",
        "IAC",
        "EAR",
        "JAW",
        "TMJ",
        "MANDIBLE",
        "MAXILLA",
        "DENTAL",
        "NECK",
        "CSPINE",
        "TSPINE",
        "LSPINE",
        "SSPINE",
        "SPINE",
        "CHEST",
        "THORAX",
        "LUNG",
        "HEART",
        "CARDIAC",
        "CORONARY",
        "BREAST",
        "ABDOMEN",
        "LIVER",
        "KIDNEY",
        "PANCREAS",
        "COLON",
        "CHESTABDOMEN",
        "HEADNECK",
        "NECKCHEST",
        "SHOULDER",
        "CLAVICLE",
        "ARM",
        "UPPERARM",
        "ELBOW",
        "FOREARM",
        "WRIST",
        "HAND",
        "FINGER",
    }
)
"""DICOM Body Part Examined values (spaces, '_' and '-' removed) that cannot show a knee. Pelvis, hip and
whole-body values are let through: long-leg protocols start there."""

AIR_HU = (-1200.0, -800.0)
SOFT_TISSUE_HU = (-200.0, 150.0)
MIN_AIR_SHARE = 0.002
MIN_SOFT_SHARE = 0.02
MAX_LABEL_VALUES = 16
_SAMPLE_VOXELS = 2_000_000


def check_input(volume: Volume, name: str = "") -> None:
    """Refuse (NotKneeCTError) a volume that cannot be a knee CT; return quietly otherwise.

    DICOM input is judged by its headers (modality, body part); other files (NIfTI,
    NRRD, MHA) carry no such facts, so their values must look like CT in HU.
    """
    what = name or (volume.source.replace("\\", "/").rsplit("/", 1)[-1] if volume.source else "The input")
    if volume.dicom is not None:
        check_dicom_facts(volume, what)
    else:
        check_ct_values(volume.array, what)


def check_dicom_facts(volume: Volume, what: str) -> None:
    """Modality must be CT; a body part the header names must be one that can hold a knee."""
    facts = volume.dicom
    if facts is None:
        return
    if facts.modality and facts.modality.upper() != "CT":
        raise NotKneeCTError(f"{what} is {facts.modality}, not CT; KneeSeg segments bone in knee CT only.")
    part = normalized_body_part(getattr(facts, "body_part", ""))
    if part in NOT_KNEE_BODY_PARTS:
        raise NotKneeCTError(
            f"{what} is a CT of the {getattr(facts, 'body_part', part).strip().lower()} (Body Part Examined in its headers), "
            "not of a knee; KneeSeg segments femur and tibia in knee CT only."
        )


def normalized_body_part(value: str) -> str:
    """'Head ', 'L-SPINE', 'upper_arm' -> 'HEAD', 'LSPINE', 'UPPERARM'."""
    return re.sub(r"[\s_\-]", "", value or "").upper()


def _sample(array: np.ndarray) -> np.ndarray:
    """A regular subsample of at most about two million voxels (the histogram shape survives)."""
    step = max(1, math.ceil((array.size / _SAMPLE_VOXELS) ** (1 / 3)))
    return np.asarray(array[::step, ::step, ::step])


def check_ct_values(array: np.ndarray, what: str) -> None:
    """Values must look like CT in HU: air near -1000, soft tissue and fat near 0, not a few labels."""
    sample = _sample(array)
    if not sample.size:
        raise NotKneeCTError(f"{what} holds no voxels.")
    low, high = float(sample.min()), float(sample.max())
    distinct = _few_distinct_integers(sample, low, high)
    if distinct is not None:
        shown = ", ".join(f"{v:g}" for v in distinct[:6]) + (", ..." if len(distinct) > 6 else "")
        raise NotKneeCTError(
            f"{what} holds only {len(distinct)} different values ({shown}): it is a label map or mask, not a CT; "
            "give the CT itself as input (a label map belongs to --reference)."
        )
    inside_fov = sample[sample >= AIR_HU[0]]
    total = max(inside_fov.size, 1)
    air = np.count_nonzero(inside_fov <= AIR_HU[1]) / total
    soft = np.count_nonzero((inside_fov >= SOFT_TISSUE_HU[0]) & (inside_fov <= SOFT_TISSUE_HU[1])) / total
    # A tight field of view may lie wholly inside a thigh: then the only "air" is the padding
    # outside the reconstruction circle (-1024 HU or below), which only CT in HU has too.
    padded = np.count_nonzero(sample < AIR_HU[0]) / sample.size
    if air < MIN_AIR_SHARE and padded < MIN_AIR_SHARE:
        raise NotKneeCTError(
            f"{what} does not look like CT in Hounsfield units: no voxel is air (near -1000 HU; its values run from "
            f"{low:.4g} to {high:.4g}). Is it MR, or CT saved without its rescale to HU?"
        )
    if soft < MIN_SOFT_SHARE:
        raise NotKneeCTError(
            f"{what} does not look like CT in Hounsfield units: almost no voxel has the values of fat or muscle "
            f"(-200 to 150 HU; values run from {low:.4g} to {high:.4g})."
        )


def _few_distinct_integers(sample: np.ndarray, low: float, high: float) -> list[float] | None:
    """The distinct values when there are at most MAX_LABEL_VALUES whole numbers from 0 up, else None
    (a label map never holds negative values; a toy CT of air and bone is judged by its HU instead)."""
    if low < 0 or high > 65535:
        return None
    if np.issubdtype(sample.dtype, np.floating) and not np.array_equal(sample, np.rint(sample)):
        return None
    counts = np.bincount((sample - low).astype(np.int64).ravel())
    values = np.flatnonzero(counts)
    if values.size > MAX_LABEL_VALUES:
        return None
    return [float(v + low) for v in values]


# ----------------------------------------------------------------------------
# reference labels
# ----------------------------------------------------------------------------
def parse_label_mapping(text: str) -> dict[int, int]:
    """'3=1,4=2' -> {3: 1, 4: 2}: reference label -> model label (InputError on a malformed mapping)."""
    mapping: dict[int, int] = {}
    for part in (p.strip() for p in text.split(",")):
        match = re.fullmatch(r"(\d+)\s*=\s*(\d+)", part)
        if not match:
            raise InputError(
                f"--reference-labels: '{part}' is not REFERENCE=MODEL with two label numbers (e.g. 3=1,4=2)."
            )
        source, target = int(match.group(1)), int(match.group(2))
        if source in mapping:
            raise InputError(f"--reference-labels: label {source} is mapped twice.")
        if source > 255 or target > 255:
            raise InputError(f"--reference-labels: labels go up to 255, not {max(source, target)}.")
        mapping[source] = target
    if not mapping:
        raise InputError("--reference-labels: give at least one REFERENCE=MODEL pair (e.g. 3=1,4=2).")
    return mapping


def label_values(array: np.ndarray) -> list[int]:
    """Nonzero labels present in a uint8 label map (one bincount, no sort)."""
    return [int(v) for v in np.flatnonzero(np.bincount(array.ravel(), minlength=256)) if v]


def match_reference_labels(
    reference: Volume, model_labels: dict[int, str], mapping: dict[int, int] | None = None
) -> Volume:
    """The reference with its labels in the model's numbering, or ReferenceLabelsError.

    Without ``mapping`` every reference label must be one of the model's. With it, the
    mapped labels are renumbered and every other label becomes background.
    """
    present = label_values(reference.array)
    model_text = ", ".join(f"{k} {v}" for k, v in sorted(model_labels.items()))
    if mapping is None:
        unknown = [v for v in present if v not in model_labels]
        if unknown:
            raise ReferenceLabelsError(
                f"The reference holds label(s) {_labels_text(present)} but the model's labels are {model_text}; "
                "say which reference label is which bone with --reference-labels (e.g. 3=1,4=2)."
            )
        return reference
    bad_target = sorted({t for t in mapping.values() if t not in model_labels})
    if bad_target:
        raise ReferenceLabelsError(
            f"--reference-labels maps to label {bad_target[0]}, which the model does not have ({model_text})."
        )
    missing = [s for s in mapping if s not in present]
    if missing:
        raise ReferenceLabelsError(
            f"--reference-labels names label {missing[0]}, which is not in the reference (it holds {_labels_text(present)})."
        )
    table = np.zeros(256, dtype=np.uint8)
    for source, target in mapping.items():
        table[source] = target
    return reference.with_array(table[reference.array], source=reference.source)


def _labels_text(values: list[int]) -> str:
    if not values:
        return "none"
    if len(values) > 8:
        return f"{values[0]}-{values[-1]} ({len(values)} labels)"
    return ", ".join(str(v) for v in values)
