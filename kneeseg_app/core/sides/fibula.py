"""A single knee's side from its anatomy: the fibula lies lateral to the tibia.

Two knees tell their sides by their positions (:mod:`kneeseg_app.core.sides.knees`); one
knee in the field of view has nothing to compare with, but the fibula, the thin bone behind
the tibia that the models do not label, is always on the lateral side, and lateral is +x
(the patient's left) for a left knee. The answer does not depend on how the patient lay in
the scanner (HFS, FFS, prone): everything is measured in patient coordinates (LPS).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kneeseg_app.core.labels import LEFT, RIGHT
from kneeseg_app.core.sides.knees import KneeRegion
from kneeseg_app.core.volume import Volume


def fibula_side(ct: Volume, labels: Volume, region: KneeRegion) -> str | None:
    """'left'/'right' from the fibula: bright bone behind the tibia, not labelled, 10-70 mm below its top.

    Returns None when no such bone is found.
    """
    if region.tibia is None or not ct.same_grid(labels):
        return None
    tib_idx = np.argwhere(region.tibia)
    if len(tib_idx) == 0:
        return None
    tib_world = labels.index_to_lps(tib_idx[:: max(len(tib_idx) // 20000, 1)] + region.offset_zyx)
    top_z = tib_world[:, 2].max()
    lo = np.floor(tib_idx.min(axis=0) + region.offset_zyx).astype(int)
    hi = np.ceil(tib_idx.max(axis=0) + region.offset_zyx).astype(int) + 1
    pad = (np.array([0, 25, 25]) / np.asarray(labels.spacing_zyx)).astype(int)
    lo, hi = np.maximum(lo - pad, 0), np.minimum(hi + pad, np.asarray(labels.shape))
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    bone = (ct.array[box] > 250) & (labels.array[box] == 0)
    bone = ndimage.binary_opening(bone, iterations=1)
    idx = np.argwhere(bone)
    if len(idx) < 30:
        return None
    world = labels.index_to_lps(idx + lo)
    tib_centre = tib_world.mean(axis=0)
    keep = (world[:, 2] < top_z - 10) & (world[:, 2] > top_z - 70) & (world[:, 1] > tib_centre[1])
    if keep.sum() < 30:
        return None
    dx = float(np.median(world[keep, 0]) - tib_centre[0])
    if abs(dx) < 5.0:
        return None
    # the fibula is lateral: at larger x (patient's left) for a left knee
    return LEFT if dx > 0 else RIGHT
