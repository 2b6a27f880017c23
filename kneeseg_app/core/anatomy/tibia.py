"""Landmarks of the proximal tibia, defined on a bone cloud in the tibia's own frame.

Frame: superior = the anatomical shaft axis, lateral = from the medial to the lateral
plateau centre, made perpendicular. Rules (``top`` = the highest tibia point, the tip of
the eminence):

* eminences: 0.3 mm patch of the highest surface within 12 mm medial / lateral of the middle;
* plateau centres: half-way between the rim (plateau outline 0-20 mm below the top) and the
  eminence tip medio-laterally, the middle of the outline antero-posteriorly, on the surface;
* lowest points: the lowest articular surface within 6 mm of each centre;
* posterior slope: the line fitted to the articular surface along each compartment's
  middle (+-3 mm ML, +-12 mm AP), against the plane perpendicular to the shaft;
* tuberosity: 1 mm patch of the most anterior surface 18-70 mm below the top;
* sizes: ML and AP extent 8-10 mm below the plateau centres;
* ankle centre (the tibial plafond's) when the distal tibia is in the scan (:mod:`anatomy.ends`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kneeseg_app.core.anatomy.ends import ankle_centre, bone_is_cut
from kneeseg_app.core.anatomy.extent import Extent, surface_extent
from kneeseg_app.core.anatomy.femur import CUT, drop_edge_points
from kneeseg_app.core.anatomy.frame import BoneCloud, BoneFrame, unit
from kneeseg_app.core.anatomy.rules import ShaftFit, extreme_patch, fit_shaft

L, P, S = 0, 1, 2


@dataclass
class TibiaAnatomy:
    """Tibial landmarks (LPS mm), slopes (deg), sizes (mm) and how they were found."""

    frame: BoneFrame
    shaft: ShaftFit
    points: dict[str, np.ndarray | None] = field(default_factory=dict)
    slopes: dict[str, float | None] = field(default_factory=dict)
    sizes: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    extents: dict[str, Extent] = field(default_factory=dict)
    """Where each size was measured (its ends' surface points), for refining them in the CT."""


def tibia_anatomy(cloud: BoneCloud, superior_hint: np.ndarray, lateral_hint: np.ndarray) -> TibiaAnatomy:
    sup, lat = unit(superior_hint), unit(lateral_hint)
    shaft = fit_shaft(cloud, sup, proximal=False)
    if shaft.ok:
        sup = shaft.direction
    for _ in range(3):
        frame = BoneFrame.from_axes(cloud.surface.mean(axis=0), sup, lat)
        centres = _centres(frame.local(cloud.surface))
        if centres is None:
            break
        lat = frame.world(centres[1]) - frame.world(centres[0])
    frame = BoneFrame.from_axes(cloud.surface.mean(axis=0), sup, lat)
    anatomy = _landmarks(cloud, frame, shaft)
    drop_edge_points(anatomy.points, anatomy.notes, cloud)
    ankle = ankle_centre(cloud, anatomy.frame) if shaft.ok else None
    anatomy.points["ankle_centre"] = ankle
    if ankle is None:
        cut = bone_is_cut(cloud, top=False)
        anatomy.notes["ankle_centre"] = CUT if cut else "no tibial plafond found at the tibia's distal end"
    return anatomy


def _top_surface(local: np.ndarray, cell: float = 1.0) -> np.ndarray:
    """The highest surface point of every 1 mm (l, p) column: the joint surface seen from above."""
    keys = np.floor(local[:, :2] / cell).astype(np.int64)
    order = np.lexsort((-local[:, S], keys[:, 1], keys[:, 0]))
    k = keys[order]
    first = np.ones(len(k), bool)
    first[1:] = np.any(k[1:] != k[:-1], axis=1)
    return local[order][first]


def _centres(local: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    top = local[:, S].max()
    outline = local[local[:, S] > top - 20.0]
    middle = 0.5 * (outline[:, L].min() + outline[:, L].max())
    spines = local[(local[:, S] > top - 20.0) & (np.abs(local[:, L] - middle) < 12.0)]
    tip_m = extreme_patch(spines[spines[:, L] < middle], S, 1.0, 0.3)
    tip_l = extreme_patch(spines[spines[:, L] >= middle], S, 1.0, 0.3)
    if tip_m is None or tip_l is None:
        return None
    surface = _top_surface(outline)
    out = []
    for tip, rim in ((tip_m, outline[:, L].min()), (tip_l, outline[:, L].max())):
        l_c = 0.5 * (tip[L] + rim)
        strip = outline[np.abs(outline[:, L] - l_c) < 2.0]
        p_c = 0.5 * (strip[:, P].min() + strip[:, P].max())
        column = surface[(np.abs(surface[:, L] - l_c) < 1.5) & (np.abs(surface[:, P] - p_c) < 1.5)]
        if len(column) == 0:
            return None
        out.append(np.array([l_c, p_c, float(np.median(column[:, S]))]))
    return out[0], out[1]


def _landmarks(cloud: BoneCloud, frame: BoneFrame, shaft: ShaftFit) -> TibiaAnatomy:
    local = frame.local(cloud.surface)
    top = local[:, S].max()
    outline = local[local[:, S] > top - 20.0]
    middle = 0.5 * (outline[:, L].min() + outline[:, L].max())
    spines = outline[np.abs(outline[:, L] - middle) < 12.0]
    out: dict[str, np.ndarray | None] = {
        "eminence_medial": extreme_patch(spines[spines[:, L] < middle], S, 1.0, 0.3),
        "eminence_lateral": extreme_patch(spines[spines[:, L] >= middle], S, 1.0, 0.3),
    }
    centres = _centres(local)
    slopes: dict[str, float | None] = {"medial": None, "lateral": None}
    extents: dict[str, Extent] = {}
    surface = _top_surface(outline)
    if centres is not None:
        for name, c in zip(("medial", "lateral"), centres):
            out[f"plateau_{name}"] = c
            near = surface[np.hypot(surface[:, L] - c[L], surface[:, P] - c[P]) < 6.0]
            out[f"plateau_lowest_{name}"] = extreme_patch(near, S, -1.0, 1.0)
            slopes[name] = _slope(surface, c)
        level = 0.5 * (centres[0][S] + centres[1][S])
        slab = local[(local[:, S] < level - 8.0) & (local[:, S] > level - 10.0)]
        extents = {"tibia_ml_mm": surface_extent(slab, L, frame), "tibia_ap_mm": surface_extent(slab, P, frame)}
    band = local[(local[:, S] < top - 18.0) & (local[:, S] > top - 70.0)]
    out["tuberosity"] = extreme_patch(band, P, -1.0, 1.0)
    points = {name: (None if v is None else frame.world(v)) for name, v in out.items()}
    origin = points.get("plateau_medial")
    if origin is not None and points.get("plateau_lateral") is not None:
        origin = 0.5 * (points["plateau_medial"] + points["plateau_lateral"])
    sizes = {name: extent.length_mm for name, extent in extents.items()}
    return TibiaAnatomy(
        frame.with_origin(origin if origin is not None else frame.origin), shaft, points, slopes, sizes, extents=extents
    )


def _slope(surface: np.ndarray, centre: np.ndarray) -> float | None:
    """Posterior slope (deg, positive = the plateau falls towards the back) of one compartment."""
    strip = surface[(np.abs(surface[:, L] - centre[L]) < 3.0) & (np.abs(surface[:, P] - centre[P]) < 12.0)]
    if len(strip) < 8:
        return None
    gradient = np.polyfit(strip[:, P], strip[:, S], 1)[0]
    return float(-np.degrees(np.arctan(gradient)))


def plateau_plane(anatomy: TibiaAnatomy, cloud: BoneCloud) -> tuple[np.ndarray, np.ndarray] | None:
    """Least-squares plane (point, unit normal pointing up) of the articular surface near both centres."""
    frame = anatomy.frame
    local = frame.local(cloud.surface)
    surface = _top_surface(local[local[:, S] > local[:, S].max() - 20.0])
    pts = []
    for name in ("plateau_medial", "plateau_lateral"):
        c = anatomy.points.get(name)
        if c is None:
            return None
        c = frame.local(c)
        pts.append(surface[np.hypot(surface[:, L] - c[L], surface[:, P] - c[P]) < 10.0])
    both = np.concatenate(pts)
    centre = both.mean(axis=0)
    _, _, vt = np.linalg.svd(both - centre, full_matrices=False)
    normal = vt[2] if vt[2][S] > 0 else -vt[2]
    return frame.world(centre), normal @ frame.rotation
