"""Hip and ankle from other series of the same study (the usual long-leg CT protocol).

A long-leg CT is often three short series (hip, knee, ankle) in one frame of reference: the
same patient coordinates. The knee series gives the femur's and tibia's frames; the hip
series' femur top gives the head centre, the ankle series' tibia bottom the ankle centre,
each taken from the piece of bone that lies on the knee's shaft axis (the other leg's lies
~150 mm away). Nothing is resampled: the rules read points in LPS millimetres.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kneeseg_app.core.anatomy import BoneCloud, FemurAnatomy, TibiaAnatomy
from kneeseg_app.core.anatomy.ends import ankle_centre, femoral_head
from kneeseg_app.core.planning.clouds import bone_cloud
from kneeseg_app.core.sides import split_knees
from kneeseg_app.core.volume import Volume

NEAR_AXIS_MM = 60.0
"""A piece of bone belongs to this knee when its centroid lies this close to the knee's shaft axis line."""


def _clouds(volume: Volume, bone: str) -> list[BoneCloud]:
    out = []
    for region in split_knees(volume):
        mask = region.femur if bone == "femur" else region.tibia
        if mask is not None and int(mask.sum()) >= 500:
            out.append(bone_cloud(volume, mask, region.offset_zyx))
    return out


def _on_axis(cloud: BoneCloud, point: np.ndarray, direction: np.ndarray) -> bool:
    offset = cloud.inside.mean(axis=0) - point
    lateral = offset - (offset @ direction) * direction
    return float(np.linalg.norm(lateral)) < NEAR_AXIS_MM


def add_far_ends(fem: FemurAnatomy | None, tib: TibiaAnatomy | None, extra: Sequence[Volume]) -> None:
    """Fill a missing femoral head / ankle centre from ``extra`` label maps (in place, with a note)."""
    for volume in extra:
        name = volume.source or "another series"
        if fem is not None and fem.points.get("femoral_head_centre") is None and fem.shaft.ok:
            for cloud in _clouds(volume, "femur"):
                if not _on_axis(cloud, fem.shaft.point, fem.shaft.direction):
                    continue
                head = femoral_head(cloud, fem.frame, fem.shaft.point)
                if head is not None:
                    fem.points["femoral_head_centre"] = head[0]
                    fem.notes["femoral_head_centre"] = f"sphere of radius {head[1]:.1f} mm, from {name}"
                    break
        if tib is not None and tib.points.get("ankle_centre") is None and tib.shaft.ok:
            for cloud in _clouds(volume, "tibia"):
                if not _on_axis(cloud, tib.shaft.point, tib.shaft.direction):
                    continue
                ankle = ankle_centre(cloud, tib.frame)
                if ankle is not None:
                    tib.points["ankle_centre"] = ankle
                    tib.notes["ankle_centre"] = f"from {name}"
                    break


__all__ = ["add_far_ends"]
