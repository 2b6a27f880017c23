"""Segmentation quality of femur and tibia against a reference, in millimetres.

Per bone (label) :func:`compute_metrics` gives the study's six measures (Dice,
Jaccard, precision, recall, Hausdorff distance, average symmetric surface distance)
plus HD95 and volumes, all with the real (anisotropic) voxel spacing.

Conventions (fixed; shown to users as :data:`CONVENTIONS`, tested in
tests/core/test_metrics.py):

* **Masks.** Bone ``k`` is ``labels == k`` in each map; other labels are background
  for it. Both maps must have the same shape (else :class:`LabelMapError`).
* **Surface.** The surface of a mask is its voxels that have at least one background
  voxel among their 6 face neighbours (3D 6-neighbourhood, connectivity 1), i.e.
  ``mask XOR binary_erosion(mask, connectivity-1 cross)``. Outside the image counts
  as background, so an object cut by the image border has a surface there. This is
  medpy's definition (``connectivity=1``).
* **Surface distances.** Exact Euclidean distances in mm between surface voxel
  centres, scaled by ``spacing_zyx``: for every surface voxel of one mask the
  distance to the nearest surface voxel of the other (a *directed* distance set).
  medpy obtains the same numbers from ``distance_transform_edt(sampling=spacing)``;
  we compute them with a k-d tree over the surface voxels (~20x faster for bones),
  or with that EDT when the surfaces are so dense that the EDT is cheaper.
* **Hausdorff** = max of both directed sets. **HD95** = 95th percentile (numpy's
  linear interpolation) of the *pooled* union of both directed sets (medpy's
  ``hd95``; DeepMind's surface-distance package instead takes the max of the two
  directed 95th percentiles, which is usually larger). **ASSD** = mean of the *pooled*
  union of both sets, i.e. ``(sum d(a, B) + sum d(b, A)) / (|A| + |B|)`` over
  surface voxels (Heimann 2009; medpy >= 0.5 ``assd``; medpy <= 0.4 averaged the
  two directed means instead, which differs when the surfaces differ in size).
* **Empty masks.** Both empty (bone absent in both): perfect agreement, i.e. Dice,
  Jaccard, precision, recall = 1; distances = 0 mm; volume difference = 0 mL, 0 %.
  Exactly one empty (bone missed or invented): Dice, Jaccard, precision, recall = 0
  (the 0/0 one included); Hausdorff, HD95, ASSD = inf; volume difference % =
  -100 % (missed) or +inf (invented, reference empty). So the results never hold NaN.
* **Volumes** in mL = voxel count x voxel volume. Volume difference =
  prediction - reference (positive: over-segmentation), in mL and in % of the
  reference volume.

Speed: every step but two label scans (``scipy.ndimage.find_objects``) runs on the
bounding box of the bone in either map, padded by one voxel; counts use
``np.count_nonzero``; surfaces are found by a 6-neighbour erosion done with array
slices. A 512x512x400 pair with two large bones takes about a second (see
benchmarks/bench_metrics.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from typing import NamedTuple

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from kneeseg_app.core.errors import GeometryError, LabelMapError
from kneeseg_app.core.grid import on_same_grid
from kneeseg_app.core.labels import LABEL_NAMES
from kneeseg_app.core.volume import Volume

LABELS: Mapping[int, str] = LABEL_NAMES
"""The label table (kneeseg_app.core.labels), kept under its old name for callers."""


class MetricInfo(NamedTuple):
    """How to show one metric in a table."""

    name: str
    unit: str
    higher_is_better: bool | None
    """``None`` for volumes: neither direction is better (differences are best near 0)."""


METRIC_INFO: dict[str, MetricInfo] = {
    "dice": MetricInfo("Dice", "", True),
    "jaccard": MetricInfo("Jaccard", "", True),
    "precision": MetricInfo("Precision", "", True),
    "recall": MetricInfo("Recall", "", True),
    "hausdorff_mm": MetricInfo("Hausdorff distance", "mm", False),
    "hd95_mm": MetricInfo("HD95", "mm", False),
    "assd_mm": MetricInfo("ASSD", "mm", False),
    "volume_pred_ml": MetricInfo("Volume (prediction)", "mL", None),
    "volume_ref_ml": MetricInfo("Volume (reference)", "mL", None),
    "volume_diff_ml": MetricInfo("Volume difference", "mL", None),
    "volume_diff_pct": MetricInfo("Volume difference", "%", None),
}

CONVENTIONS = (
    "How the metrics are computed. Each bone is compared on its own, in millimetres with the "
    "scan's real voxel spacing. Dice, Jaccard, precision (share of the predicted bone that is "
    "bone in the reference) and recall (share of the reference bone that was found) count voxels. "
    "The surface of a bone is its voxels that touch the background through one of their six faces "
    "(outside the image counts as background). For every surface voxel we take the distance, "
    "centre to centre, to the nearest surface voxel of the other segmentation, in both directions. "
    "The Hausdorff distance is the largest of all these distances; HD95 is the 95th percentile of "
    "both directions pooled together (as medpy's hd95), so the worst 5 % of surface is ignored; "
    "ASSD is the mean of both directions pooled together. Volumes are voxel counts times the voxel "
    "volume, in mL; the volume difference is prediction minus reference (positive means too much "
    "bone), also in % of the reference. If a bone is absent from both segmentations they agree "
    "perfectly (overlap scores 1, distances 0 mm). If it is absent from only one, the overlap "
    "scores are 0 and the distances are infinite (shown as inf). In summaries over many cases, "
    "mean, standard deviation (n - 1), median and quartiles (Q1-Q3, linear interpolation) use the "
    "finite values only; the number of cases left out as infinite is shown next to them."
)

#: Above this share of surface points per crop voxel, the EDT beats the k-d tree.
_EDT_POINTS_PER_VOXEL = 0.5


@dataclass(frozen=True)
class BoneMetrics:
    """Agreement of one bone's prediction with its reference (see :data:`CONVENTIONS`)."""

    dice: float
    jaccard: float
    precision: float
    recall: float
    hausdorff_mm: float
    hd95_mm: float
    assd_mm: float
    volume_pred_ml: float
    volume_ref_ml: float
    volume_diff_ml: float
    volume_diff_pct: float

    def as_dict(self) -> dict[str, float]:
        """Metric key -> value, in :data:`METRIC_INFO` order."""
        return {f.name: float(v) for f, v in zip(fields(self), astuple(self))}


def compute_metrics(
    prediction: np.ndarray,
    reference: np.ndarray,
    spacing_zyx: Sequence[float],
    labels: Mapping[int, str] = LABELS,
) -> dict[str, BoneMetrics]:
    """Metrics of each labelled bone, keyed by bone name (in ``labels`` order).

    ``prediction`` and ``reference`` are integer label maps indexed (z, y, x) on the
    same grid; ``spacing_zyx`` is the voxel size in mm in array order.
    """
    pred = _as_label_map(prediction, "prediction")
    ref = _as_label_map(reference, "reference")
    if pred.shape != ref.shape:
        raise LabelMapError(
            f"The prediction ({_shape_text(pred.shape)}) and the reference ({_shape_text(ref.shape)}) "
            "have different sizes, so they cannot be compared voxel by voxel."
        )
    spacing = _checked_spacing(spacing_zyx)
    _check_labels(labels)
    max_label = max(labels, default=0)
    boxes_pred = ndimage.find_objects(pred, max_label=max_label)
    boxes_ref = ndimage.find_objects(ref, max_label=max_label)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    results: dict[str, BoneMetrics] = {}
    for label, name in labels.items():
        box = _union_box(boxes_pred[label - 1], boxes_ref[label - 1])
        results[name] = _bone_metrics(pred, ref, label, box, spacing, voxel_ml)
    return results


def compare_label_volumes(
    prediction: Volume, reference: Volume, labels: Mapping[int, str] = LABELS
) -> dict[str, BoneMetrics]:
    """:func:`compute_metrics` for two label :class:`~kneeseg_app.core.volume.Volume` s on one grid."""
    if not on_same_grid(prediction, reference):
        raise LabelMapError(
            "The prediction and the reference segmentation are not on the same voxel grid "
            "(size, spacing, origin or orientation differ), so they cannot be compared."
        )
    return compute_metrics(prediction.array, reference.array, reference.spacing_zyx, labels)


# ----- input checks ----------------------------------------------------------


def _as_label_map(array: np.ndarray, what: str) -> np.ndarray:
    """The array as a 3D integer label map (bool is viewed as uint8, no copy)."""
    array = np.asarray(array)
    if array.ndim != 3:
        raise LabelMapError(f"The {what} is not a 3D label map (it has shape {array.shape}).")
    if array.dtype == np.bool_:
        return array.view(np.uint8)
    if not np.issubdtype(array.dtype, np.integer):
        raise LabelMapError(f"The {what} holds {array.dtype} values; a label map must hold integer labels.")
    return array


def _checked_spacing(spacing_zyx: Sequence[float]) -> np.ndarray:
    spacing = np.asarray(spacing_zyx, dtype=np.float64).ravel()
    if spacing.shape != (3,) or not np.all(np.isfinite(spacing)) or np.any(spacing <= 0):
        raise GeometryError(f"The voxel spacing {tuple(spacing_zyx)} is not three positive sizes in mm.")
    return spacing


def _check_labels(labels: Mapping[int, str]) -> None:
    if any(int(k) != k or k < 1 for k in labels):
        raise ValueError(f"labels must be positive integers, got {sorted(labels)}")


def _shape_text(shape: tuple[int, ...]) -> str:
    return " x ".join(str(s) for s in shape[::-1]) + " voxels"


# ----- one bone ---------------------------------------------------------------


def _union_box(a: tuple[slice, ...] | None, b: tuple[slice, ...] | None) -> tuple[slice, ...] | None:
    """Smallest box holding both boxes (``None`` = the label is in neither map)."""
    if a is None or b is None:
        return a if b is None else b
    return tuple(slice(min(sa.start, sb.start), max(sa.stop, sb.stop)) for sa, sb in zip(a, b))


def _bone_metrics(
    pred: np.ndarray,
    ref: np.ndarray,
    label: int,
    box: tuple[slice, ...] | None,
    spacing: np.ndarray,
    voxel_ml: float,
) -> BoneMetrics:
    if box is None:
        return _metrics_from_parts(0, 0, 0, np.empty(0), np.empty(0), voxel_ml)
    p = _padded_mask(pred[box], label)
    r = _padded_mask(ref[box], label)
    n_pred = int(np.count_nonzero(p))
    n_ref = int(np.count_nonzero(r))
    n_both = int(np.count_nonzero(np.logical_and(p, r)))
    surf_p = _surface(p)
    surf_r = _surface(r)
    d_pred_to_ref, d_ref_to_pred = _directed_surface_distances(surf_p, surf_r, spacing)
    return _metrics_from_parts(n_pred, n_ref, n_both, d_pred_to_ref, d_ref_to_pred, voxel_ml)


def _padded_mask(crop: np.ndarray, label: int) -> np.ndarray:
    """``crop == label`` with a one-voxel frame of background around it."""
    padded = np.zeros(tuple(s + 2 for s in crop.shape), dtype=bool)
    np.equal(crop, label, out=padded[1:-1, 1:-1, 1:-1])
    return padded


def _surface(padded: np.ndarray) -> np.ndarray:
    """Voxels of the (unpadded) mask with a background face neighbour (6-neighbourhood)."""
    core = padded[1:-1, 1:-1, 1:-1]
    interior = core.copy()
    for axis in range(3):
        for start in (0, 2):
            window = [slice(1, -1)] * 3
            window[axis] = slice(start, start + core.shape[axis])
            interior &= padded[tuple(window)]
    return core & ~interior


def _directed_surface_distances(
    surf_a: np.ndarray, surf_b: np.ndarray, spacing: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(distances a -> nearest b, distances b -> nearest a) in mm; empty if either surface is."""
    n_a, n_b = int(np.count_nonzero(surf_a)), int(np.count_nonzero(surf_b))
    if n_a == 0 or n_b == 0:
        return np.empty(0), np.empty(0)
    if _distance_method(n_a + n_b, surf_a.size) == "edt":
        return _edt_distances(surf_a, surf_b, spacing), _edt_distances(surf_b, surf_a, spacing)
    points_a = np.argwhere(surf_a) * spacing
    points_b = np.argwhere(surf_b) * spacing
    return _kdtree_distances(points_a, points_b), _kdtree_distances(points_b, points_a)


def _distance_method(n_surface_points: int, n_voxels: int) -> str:
    """'kdtree' for ordinary surfaces; 'edt' when surfaces fill much of the box (noise)."""
    return "edt" if n_surface_points > _EDT_POINTS_PER_VOXEL * n_voxels else "kdtree"


def _kdtree_distances(points_from: np.ndarray, points_to: np.ndarray) -> np.ndarray:
    distances, _ = cKDTree(points_to).query(points_from, k=1, workers=-1)
    return np.asarray(distances, dtype=np.float64)


def _edt_distances(surf_from: np.ndarray, surf_to: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    distance_map = ndimage.distance_transform_edt(~surf_to, sampling=spacing)
    return distance_map[surf_from]


def _metrics_from_parts(
    n_pred: int, n_ref: int, n_both: int, d_pred_to_ref: np.ndarray, d_ref_to_pred: np.ndarray, voxel_ml: float
) -> BoneMetrics:
    """Apply the formulas and the empty-mask conventions to voxel counts and distances."""
    hausdorff, hd95, assd = _distance_scores(n_pred, n_ref, d_pred_to_ref, d_ref_to_pred)
    return BoneMetrics(
        dice=_ratio(2 * n_both, n_pred + n_ref, n_pred, n_ref),
        jaccard=_ratio(n_both, n_pred + n_ref - n_both, n_pred, n_ref),
        precision=_ratio(n_both, n_pred, n_pred, n_ref),
        recall=_ratio(n_both, n_ref, n_pred, n_ref),
        hausdorff_mm=hausdorff,
        hd95_mm=hd95,
        assd_mm=assd,
        volume_pred_ml=n_pred * voxel_ml,
        volume_ref_ml=n_ref * voxel_ml,
        volume_diff_ml=(n_pred - n_ref) * voxel_ml,
        volume_diff_pct=_volume_diff_pct(n_pred, n_ref),
    )


def _ratio(numerator: int, denominator: int, n_pred: int, n_ref: int) -> float:
    """numerator / denominator, with 0/0 = 1 if both masks are empty, else 0."""
    if denominator == 0:
        return 1.0 if n_pred == 0 and n_ref == 0 else 0.0
    return float(numerator) / float(denominator)


def _distance_scores(
    n_pred: int, n_ref: int, d_pred_to_ref: np.ndarray, d_ref_to_pred: np.ndarray
) -> tuple[float, float, float]:
    """(Hausdorff, HD95, ASSD) in mm: 0 if both masks are empty, inf if exactly one is."""
    if n_pred == 0 and n_ref == 0:
        return 0.0, 0.0, 0.0
    if n_pred == 0 or n_ref == 0:
        return math.inf, math.inf, math.inf
    pooled = np.concatenate([d_pred_to_ref, d_ref_to_pred])
    return float(pooled.max()), float(np.percentile(pooled, 95)), float(pooled.mean())


def _volume_diff_pct(n_pred: int, n_ref: int) -> float:
    if n_ref == 0:
        return 0.0 if n_pred == 0 else math.inf
    return 100.0 * (n_pred - n_ref) / n_ref
