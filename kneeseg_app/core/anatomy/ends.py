"""The far ends of the leg when a scan reaches them: femoral head centre and ankle centre.

* femoral head: a sphere fitted (least squares, then refitted to the points within 2 mm of
  it) to the femur surface in the top 45 mm, medial of the shaft axis;
* ankle centre: the centre of the tibial plafond: the centroid of the tibia's 4 mm slab just
  above the lowest slab whose section is at least 40 % of the widest section of the bottom
  60 mm (the medial malleolus alone is narrower).

A bone whose end touches the first or last slice is cut by the scan: nothing is sought there
(``cut`` in the returned note), rather than fitting a sphere to a shaft.
"""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.anatomy.frame import BoneCloud, BoneFrame

L, P, S = 0, 1, 2


def bone_is_cut(cloud: BoneCloud, top: bool) -> bool:
    """True when the scan's first/last slice cuts the bone at its proximal (top) or distal end."""
    pos = cloud.surface @ cloud.scan_normal
    margin = 1.5 * max(cloud.step_mm, 1.0)
    if top:
        return bool(cloud.scan_range[1] - pos.max() < margin)
    return bool(pos.min() - cloud.scan_range[0] < margin)


def fit_sphere(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Algebraic least-squares sphere: centre, radius."""
    a = np.hstack([2.0 * points, np.ones((len(points), 1))])
    b = (points**2).sum(axis=1)
    sol, *_ = np.linalg.lstsq(a, b, rcond=None)
    centre = sol[:3]
    return centre, float(np.sqrt(max(sol[3] + centre @ centre, 0.0)))


def femoral_head(cloud: BoneCloud, frame: BoneFrame, shaft_point: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Head centre (LPS) and radius, or None when the head is not in the scan or not found."""
    if bone_is_cut(cloud, top=True):
        return None
    local = frame.local(cloud.surface)
    top = local[:, S].max()
    shaft_l = frame.local(shaft_point)[L]
    cand = local[(local[:, S] > top - 45.0) & (local[:, L] < shaft_l - 10.0)]
    if len(cand) < 50:
        return None
    centre, radius = fit_sphere(cand)
    for _ in range(3):
        near = cand[np.abs(np.linalg.norm(cand - centre, axis=1) - radius) < 2.0]
        if len(near) < 50:
            return None
        centre, radius = fit_sphere(near)
    if not 12.0 < radius < 35.0:
        return None
    return frame.world(centre), radius


def ankle_centre(cloud: BoneCloud, frame: BoneFrame) -> np.ndarray | None:
    """Centre of the tibial plafond (LPS), or None when the distal tibia is not in the scan."""
    if bone_is_cut(cloud, top=False):
        return None
    inside = frame.local(cloud.inside)
    bottom = inside[:, S].min()
    low = inside[inside[:, S] < bottom + 60.0]
    bins = np.floor((low[:, S] - bottom) / 2.0).astype(np.int64)
    counts = np.bincount(bins)
    if counts.max() == 0:
        return None
    first = int(np.flatnonzero(counts >= 0.4 * counts.max())[0])
    level = bottom + 2.0 * first
    slab = low[(low[:, S] >= level) & (low[:, S] < level + 4.0)]
    if len(slab) < 20:
        return None
    centre = slab.mean(axis=0)
    centre[S] = level
    return frame.world(centre)
