"""Landmarks of the distal femur, defined on a bone cloud in the femur's own frame.

Frame: superior = the anatomical shaft axis (:func:`rules.fit_shaft`), lateral = the
posterior condylar axis made perpendicular to it, posterior = their cross product. The
rules (all distances from the distal condylar level ``s0``, the lowest femur point):

* posterior condyle points: centroid of the 0.5 mm patch of the most posterior surface of each
  condyle (medial: l < notch - 4 mm; lateral: l > notch + 4 mm; only below s0 + 28 mm, under
  posterior osteophytes);
* distal condyle points: 1 mm patch of the lowest surface within 8 mm (ML) of the posterior
  point of the same condyle (marginal osteophytes hang lower at the condyle's edges);
* from here on ``s0`` is the distal condylar level (the lower distal point), not the lowest
  bone point (possibly an osteophyte's tip);
* epicondyles: 1.5 mm patch of the most medial / lateral surface between s0 + 25 and s0 + 60 mm
  (above the condylar osteophytes);
* medial sulcus (surgical TEA's medial end): the deepest dent posterior-distal of the medial
  epicondyle, when deep enough, on slices of 2 mm or thinner (:mod:`anatomy.sulcus`);
* trochlear groove: the deepest point of the anterior outline 22 mm above s0, within 15 mm
  of the notch;
* notch apex: the top of the intercondylar arch: where the lowest femur surface per 1 mm of ML
  is highest within 15 mm of the middle, at the AP level of the condyles' lowest 8 mm;
* sizes: AP = posterior-anterior extent below s0 + 28 mm; ML = medial-lateral extent from 5 mm below to 12 mm above s0
  (each with its ends' surface points, :mod:`anatomy.extent`, for refining them in the CT);
* femoral head centre when the femur's top is in the scan (:mod:`anatomy.ends`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kneeseg_app.core.anatomy.ends import bone_is_cut, femoral_head
from kneeseg_app.core.anatomy.extent import Extent, surface_extent
from kneeseg_app.core.anatomy.frame import BoneCloud, BoneFrame, unit
from kneeseg_app.core.anatomy.rules import ShaftFit, extreme_patch, fit_shaft, profile_peak
from kneeseg_app.core.anatomy.sulcus import NOT_DISCERNIBLE, Sulcus, medial_sulcus

L, P, S = 0, 1, 2
CUT = "the scan cuts the bone before it"
EDGE = "at the edge of the image: the bone is cut there, so the true point may lie outside"


def drop_edge_points(points: dict, notes: dict, cloud: BoneCloud) -> None:
    """Forget landmarks on the image's edge (a bone cut by the scan or the field of view), in place."""
    for name, point in points.items():
        if point is not None and bool(cloud.near_scan_end(np.asarray(point)[None])[0]):
            points[name] = None
            notes[name] = EDGE


GROOVE_LEVEL_MM = 22.0
MAX_SULCUS_STEP_MM = 2.0
"""The sulcus (3-6 mm wide) is not sought on thicker slices."""
POSTERIOR_BAND_MM = 28.0
"""Posterior condyle points and the AP size are sought below this height (above it: osteophytes, the metaphysis)."""


@dataclass
class FemurAnatomy:
    """Femoral landmarks (LPS mm, None where not found), axes, sizes and how they were found."""

    frame: BoneFrame
    shaft: ShaftFit
    points: dict[str, np.ndarray | None] = field(default_factory=dict)
    sizes: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    sulcus_depth_mm: float = 0.0
    """Depth of the deepest dent sought for the medial sulcus (found when >= :data:`sulcus.MIN_DEPTH_MM`)."""
    extents: dict[str, Extent] = field(default_factory=dict)
    """Where each size was measured (its ends' surface points), for refining them in the CT."""


def femur_anatomy(cloud: BoneCloud, superior_hint: np.ndarray, lateral_hint: np.ndarray) -> FemurAnatomy:
    """Find the femur's frame (shaft axis, posterior condylar axis) then its landmarks."""
    sup, lat = unit(superior_hint), unit(lateral_hint)
    shaft = fit_shaft(cloud, sup, proximal=True)
    for _ in range(3):
        if shaft.ok:
            sup = shaft.direction
        frame = BoneFrame.from_axes(cloud.surface.mean(axis=0), sup, lat)
        local = frame.local(cloud.surface)
        s0 = local[:, S].min()
        notch_l = _notch_l(local, s0)
        post = _posterior_points(local, s0, notch_l)
        if post[0] is None or post[1] is None:
            break
        lat = frame.world(post[1]) - frame.world(post[0])
    frame = BoneFrame.from_axes(cloud.surface.mean(axis=0), sup, lat)
    anatomy = _landmarks(cloud, frame, shaft)
    drop_edge_points(anatomy.points, anatomy.notes, cloud)
    head = femoral_head(cloud, anatomy.frame, shaft.point) if shaft.ok else None
    anatomy.points["femoral_head_centre"] = None if head is None else head[0]
    if head is not None:
        anatomy.notes["femoral_head_centre"] = f"sphere of radius {head[1]:.1f} mm"
    elif bone_is_cut(cloud, top=True):
        anatomy.notes["femoral_head_centre"] = CUT
    else:
        anatomy.notes["femoral_head_centre"] = "no femoral head found at the femur's proximal end"
    return anatomy


def _notch_l(local: np.ndarray, s0: float) -> float:
    distal = local[local[:, S] < s0 + 12.0]
    return float(0.5 * (distal[:, L].min() + distal[:, L].max()))


def _posterior_points(local: np.ndarray, s0: float, notch_l: float) -> tuple[np.ndarray | None, np.ndarray | None]:
    low = local[local[:, S] < s0 + POSTERIOR_BAND_MM]
    med = extreme_patch(low[low[:, L] < notch_l - 4.0], P, 1.0, 0.5)
    lat = extreme_patch(low[low[:, L] > notch_l + 4.0], P, 1.0, 0.5)
    return med, lat


def _landmarks(cloud: BoneCloud, frame: BoneFrame, shaft: ShaftFit) -> FemurAnatomy:
    local = frame.local(cloud.surface)
    s0 = float(local[:, S].min())
    notch_l = _notch_l(local, s0)
    out: dict[str, np.ndarray | None] = {}
    notes: dict[str, str] = {}
    out["posterior_medial"], out["posterior_lateral"] = _posterior_points(local, s0, notch_l)
    low = local[local[:, S] < s0 + 15.0]
    for side in ("medial", "lateral"):
        post = out[f"posterior_{side}"]
        # within 8 mm of the condyle's middle (its posterior point): marginal osteophytes hang lower
        band = low[np.abs(low[:, L] - post[L]) < 8.0] if post is not None else low[:0]
        out[f"distal_{side}"] = extreme_patch(band, S, -1.0, 1.0)
    distal = [p[S] for p in (out["distal_medial"], out["distal_lateral"]) if p is not None]
    # from here on heights count from the distal condylar level, not from the lowest bone point
    # (which may be the tip of an osteophyte hanging from a condyle's margin)
    s0 = float(min(distal)) if distal else s0
    out["epicondyle_medial"], out["epicondyle_lateral"] = _epicondyles(local, s0)
    sulcus = _sulcus(local, out, s0, cloud.step_mm)
    out["medial_sulcus"], notes["medial_sulcus"] = sulcus.point, sulcus.note
    notch = _notch_apex(cloud, frame, local, s0, notch_l, out)
    out["notch_centre"] = notch
    if notch is not None:
        notch_l = float(notch[L])
    out["trochlear_groove"] = _groove(local, s0, notch_l)
    if out["trochlear_groove"] is None:
        notes["trochlear_groove"] = "no groove found in the anterior outline"
    top = local[local[:, S] < s0 + POSTERIOR_BAND_MM]
    bottom = local[(local[:, S] > s0 - 5.0) & (local[:, S] < s0 + 12.0)]
    extents = {"femur_ap_mm": surface_extent(top, P, frame), "femur_ml_mm": surface_extent(bottom, L, frame)}
    sizes = {name: extent.length_mm for name, extent in extents.items()}
    points = {name: (None if v is None else frame.world(v)) for name, v in out.items()}
    origin = points["notch_centre"] if points["notch_centre"] is not None else frame.world(np.array([notch_l, 0.0, s0]))
    return FemurAnatomy(frame.with_origin(origin), shaft, points, sizes, notes, sulcus.depth_mm, extents)


def _epicondyles(local: np.ndarray, s0: float) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The most medial and most lateral 1.5 mm patches 25-60 mm above the distal condylar level."""
    band = local[(local[:, S] > s0 + 25.0) & (local[:, S] < s0 + 60.0)]
    return extreme_patch(band, L, -1.0, 1.5), extreme_patch(band, L, 1.0, 1.5)


def _sulcus(local: np.ndarray, out: dict, s0: float, step_mm: float) -> Sulcus:
    medial, lateral = out["epicondyle_medial"], out["epicondyle_lateral"]
    if medial is None or lateral is None:
        return Sulcus(None, 0.0, f"{NOT_DISCERNIBLE} (no epicondyles)")
    if step_mm > MAX_SULCUS_STEP_MM:
        return Sulcus(None, 0.0, f"{NOT_DISCERNIBLE} ({step_mm:.1f} mm slices cannot show a 3-6 mm dent)")
    return medial_sulcus(local, medial, lateral, s0)


def _groove(local: np.ndarray, s0: float, notch_l: float) -> np.ndarray | None:
    level = s0 + GROOVE_LEVEL_MM
    slab = local[np.abs(local[:, S] - level) < 1.5]
    if len(slab) < 20:
        return None
    mid_p = np.median(slab[:, P])
    front = slab[slab[:, P] < mid_p]
    # depth = how far back the anterior surface lies: the deepest (most posterior) front point per bin
    edges_l = front[:, L]
    peak = _anterior_profile_peak(edges_l, front[:, P], notch_l)
    if peak is None:
        return None
    return np.array([peak[0], peak[1], level])


def _anterior_profile_peak(ml: np.ndarray, p: np.ndarray, notch_l: float) -> tuple[float, float] | None:
    """The groove: where the anterior surface (smallest p per bin) lies furthest back."""
    lo, hi = notch_l - 15.0, notch_l + 15.0
    sel = (ml >= lo) & (ml <= hi)
    if sel.sum() < 10:
        return None
    edges = np.arange(lo, hi + 1.0, 1.0)
    idx = np.digitize(ml[sel], edges) - 1
    front = np.full(len(edges), np.inf)
    np.minimum.at(front, idx, p[sel])
    ok = np.isfinite(front)
    if ok.sum() < 5:
        return None
    centres, depth = edges[ok] + 0.5, front[ok]
    # soft arg-max: bins within 1 mm of the deepest, weighted by how deep (a shallow groove's
    # floor is flat, so one bin's noise must not move the landmark)
    weights = np.clip(depth - (depth.max() - 1.0), 0.0, None)
    return float((centres * weights).sum() / weights.sum()), float(depth.max())


def _notch_apex(
    cloud: BoneCloud, frame: BoneFrame, local: np.ndarray, s0: float, notch_l: float, out: dict
) -> np.ndarray | None:
    """The top of the intercondylar arch: where the femur's floor (lowest surface per 1 mm of ML)
    is highest between the condyles, at the AP level of the condyles' lowest 8 mm."""
    condyles = local[local[:, S] < s0 + 8.0]
    if len(condyles) < 20:
        return None
    p_level = float(condyles[:, P].mean())
    strip = local[(np.abs(local[:, P] - p_level) < 2.0) & (local[:, S] < s0 + 40.0)]
    lo, hi = notch_l - 15.0, notch_l + 15.0
    sel = (strip[:, L] >= lo) & (strip[:, L] <= hi)
    if sel.sum() < 20:
        return None
    edges = np.arange(lo, hi + 1.0, 1.0)
    idx = np.digitize(strip[sel, L], edges) - 1
    floor = np.full(len(edges), np.inf)
    np.minimum.at(floor, idx, strip[sel, S])
    ok = np.isfinite(floor)
    peak = profile_peak(edges[ok] + 0.5, floor[ok], lo, hi)
    if peak is None or peak[1] < s0 + 3.0:
        return None
    return np.array([peak[0], p_level, peak[1]])
