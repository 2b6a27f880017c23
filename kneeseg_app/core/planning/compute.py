"""Plan a knee CT from its bone labels: landmarks, axes and measurements per side (LPS mm).

The label map is split into knees (:mod:`kneeseg_app.core.sides`), each bone becomes a point cloud
(its boundary and its voxels), the rules of :mod:`kneeseg_app.core.anatomy` find each bone's
frame and landmarks, and every value is wrapped with how it was found and how sure it is
(:mod:`planning.provenance`). Nothing here guesses a value the scan does not show: the hip,
the ankle and axes of bones cut too short are reported as such.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from kneeseg_app.core.anatomy import (
    BoneCloud,
    FemurAnatomy,
    TibiaAnatomy,
    femur_anatomy,
    knee_measures,
    tibia_anatomy,
)
from kneeseg_app.core.anatomy.derived import femorotibial_angle
from kneeseg_app.core.errors import LabelMapError
from kneeseg_app.core.planning.clouds import bone_cloud
from kneeseg_app.core.planning.ct_edges import SizeFromCT, cortical_hu, sizes_from_ct
from kneeseg_app.core.planning.model import KneePlan, Plan
from kneeseg_app.core.planning.provenance import femur_plan, measures_plan, tibia_plan
from kneeseg_app.core.planning.series import add_far_ends
from kneeseg_app.core.sides import KneeRegion, fibula_side, split_knees
from kneeseg_app.core.volume import Volume

UP = np.array([0.0, 0.0, 1.0])
MIN_VOXELS = 500


def plan_labels(
    labels: Volume, ct: Volume | None = None, side: str | None = None, extra_labels: Sequence[Volume] = ()
) -> Plan:
    """Landmarks, axes and measurements of every knee in ``labels`` (1 femur, 2 tibia).

    ``side`` ('left'/'right') fixes the side of a single-knee scan; otherwise it is read
    from the CT's fibula, or from the femorotibial angle (low confidence). ``extra_labels``:
    label maps of other series of the same study (hip, ankle) in the same patient
    coordinates, where the femoral head and ankle centres are sought when ``labels`` lacks them.
    """
    start = time.perf_counter()
    regions = split_knees(labels)
    if not regions:
        raise LabelMapError("The label map holds no femur (1) or tibia (2) voxels, so there is nothing to plan.")
    knees = [_plan_region(labels, ct, region, side, extra_labels) for region in regions]
    plan = Plan(
        knees=knees,
        labels_source=labels.source,
        ct_source="" if ct is None else ct.source,
        spacing_zyx=labels.spacing_zyx,
        shape_zyx=labels.shape,
    )
    plan.seconds = time.perf_counter() - start
    return plan


def _plan_region(
    labels: Volume, ct: Volume | None, region: KneeRegion, side: str | None, extra: Sequence[Volume]
) -> KneePlan:
    clouds = {
        name: bone_cloud(labels, mask, region.offset_zyx)
        for name, mask in (("femur", region.femur), ("tibia", region.tibia))
        if mask is not None and int(mask.sum()) >= MIN_VOXELS
    }
    decided, how, confidence = _side(labels, ct, region, side)
    fem, tib = _anatomy(clouds, decided or "left")
    if decided is None:
        decided, how = _side_from_angle(fem, tib, clouds)
        confidence = "low"
        if decided != "left" and decided is not None:
            fem, tib = _anatomy(clouds, decided)
    if extra:
        add_far_ends(fem, tib, extra)
    knee = KneePlan(side=decided, side_how=how, side_confidence=confidence)
    if fem is not None:
        knee.bones["femur"] = femur_plan(fem, clouds["femur"])
    if tib is not None:
        knee.bones["tibia"] = tibia_plan(tib, clouds["tibia"])
    sizes = _sizes(fem, tib, clouds, ct)
    values = knee_measures(fem, tib, clouds.get("femur"), clouds.get("tibia"))
    knee.measures = measures_plan(values, fem, tib, labels, sizes)
    return knee


def _sizes(
    fem: FemurAnatomy | None, tib: TibiaAnatomy | None, clouds: dict[str, BoneCloud], ct: Volume | None
) -> dict[str, SizeFromCT]:
    """The sizes with their ends refined in the CT (below the voxel), written back into the anatomy."""
    out: dict[str, SizeFromCT] = {}
    for anatomy, bone in ((fem, "femur"), (tib, "tibia")):
        if anatomy is not None:
            cortical = cortical_hu(ct, clouds[bone].inside) if ct is not None else np.inf
            found = sizes_from_ct(anatomy.extents, ct, cortical)
            anatomy.sizes.update({name: size.value_mm for name, size in found.items()})
            out.update(found)
    return out


def _anatomy(clouds: dict[str, BoneCloud], side: str):
    lateral = np.array([1.0, 0.0, 0.0]) if side == "left" else np.array([-1.0, 0.0, 0.0])
    fem = femur_anatomy(clouds["femur"], UP, lateral) if "femur" in clouds else None
    tib = tibia_anatomy(clouds["tibia"], UP, lateral) if "tibia" in clouds else None
    return fem, tib


def _side(labels: Volume, ct: Volume | None, region: KneeRegion, side: str | None) -> tuple[str | None, str, str]:
    if side is not None:
        return side, "given by the user", "high"
    if region.side is not None:
        return region.side, region.how, "high"
    if ct is not None:
        found = fibula_side(ct, labels, region)
        if found is not None:
            return found, "single knee: the fibula (bone behind the tibia, not labelled) lies lateral", "medium"
    return None, "", "low"


def _side_from_angle(fem, tib, clouds) -> tuple[str | None, str]:
    if fem is None or tib is None or not (fem.shaft.ok and tib.shaft.ok):
        return None, "single knee, no CT and too little shaft to tell its side: medial/lateral names assume a left knee"
    # the femoral shaft leans laterally against the tibial one: measure along the knee's ML axis
    # (the posterior condylar axis, found here as if the knee were a left one: pointing to +x)
    lean = float((fem.shaft.direction - tib.shaft.direction) @ fem.frame.lateral)
    angle = femorotibial_angle(fem, tib)
    side = "left" if lean > 0 else "right"
    return (
        side,
        f"single knee without CT: the femoral shaft leans {angle:.1f} deg towards the patient's {side} (valgus), so it is a {side} knee; pass --side to be sure",
    )
