"""Is there a knee? A femur above a tibia, meeting at a joint, both widening toward it.

A 2D network sees one slice at a time: a slice of a femoral shaft in a thigh-only scan looks
exactly like one in a long knee scan, and the shaft is femur in the second. So "no knee in this
scan" cannot be learnt slice by slice; it is decided here, on the whole leg, from what makes a
knee a knee:

* both bones, each at least :data:`MIN_KNEE_BONE_ML` (a thigh has a femur only, a calf a tibia
  only);
* each bone running on out of the scan (its first or last slice, or the edge of the field of view
  sideways) unless it is whole;
* the femur above the tibia, the gap between the femur's lowest and the tibia's highest slice at
  most :data:`MAX_JOINT_GAP_MM` (about 20 mm of metal and polyethylene after a knee replacement);
* the tibia at its widest near the joint: the plateau is larger in cross-section than the
  metaphysis :data:`FAR_MM` below it (1.42-2.9 on the truth of all 79 knees of the stress suite,
  ``benchmarks/README.md``). An ankle (tibia above, talus and heel bone below) or a hip (pelvis
  above, femoral head, neck and trochanters below) has a lower bone that grows away from its
  joint; a shaft split by a label change (a "joint" inside a thigh or a calf) does not grow at
  all. The femur's flare is reported but not judged: the epicondyles lie 25-30 mm above the
  joint, so the femur's metaphysis at 35-50 mm is nearly as wide as the condyles (0.96-2.8 on the
  same knees). Where the scan is too short to see the tibial metaphysis the test is skipped (a
  60 mm knee scan still passes).

The profiles are bone voxels per slice along the patient's superior axis, ordered inferior to
superior; ``slice_mm`` is the slice step along that axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.inference.densities import TWO_PIXELS, view_edge
from kneeseg_app.core.volume import Volume

SCAN_END_MM = 10.0
"""A bone whose far end lies within this of the scan's first or last slice runs on beyond the scan."""
WHOLE_BONE_MM = 250.0
"""A femur (knee to hip) or a tibia (knee to ankle) is longer than this: a shorter femur-like bone that
ends inside the scan is something else (a femoral head above its neck, seen at the hip)."""
MIN_BONE_LENGTH_MM = 20.0
"""A knee CT shows at least this much of each bone along the body axis (the shortest knee scans, 60 mm
around the joint, show about 30 mm of each); 40 mm of a real abdomen showed 18 mm of each."""
MIN_KNEE_BONE_ML = 5.0
"""Less femur or tibia than this is no bone of a knee (a few mL of stray voxels)."""
MAX_JOINT_GAP_MM = 32.0
"""Femur and tibia further apart than this along the body axis do not meet at a joint (a knee
replacement's metal and polyethylene leave up to about 20 mm, 16 mm in the stress suite)."""
MAX_UNCONFIRMED_GAP_MM = 20.0
"""The widest gap accepted when the tibia is too short to show its plateau's flare."""
NEAR_MM = 20.0
"""The joint end of a bone: this far from the joint (condyles, plateau)."""
FAR_MM = (35.0, 50.0)
"""The metaphysis: this range of distances from the joint."""
SHORT_NEAR_MM, SHORT_FAR_MM = 10.0, (20.0, 30.0)
"""A short scan's tibia (too short for :data:`FAR_MM`): the plateau's first 10 mm against 20-30 mm below."""
MIN_SHORT_TIBIA_FLARE = 0.9
"""A short scan's tibia must at least not narrow toward the joint (a real abdomen's vertebra did: 0.67)."""
MIN_TIBIA_FLARE = 1.2
"""The plateau's largest cross-section over the tibial metaphysis' median: at least 1.42 on the
stress suite's knees; a shaft gives about 1, a talus over its heel bone or a femoral head over
its trochanters less."""
_PRESENT = 0.05
"""A slice belongs to a bone's extent when it holds at least this share of the bone's largest slice."""


@dataclass(frozen=True)
class KneeJoint:
    """What the joint test found for one leg; ``reason`` is empty when it is a knee."""

    reason: str
    gap_mm: float | None = None
    femur_flare: float | None = None
    tibia_flare: float | None = None
    socket_share: float | None = None
    """Bone around the femur-like bone's end over its volume (core/inference/hip_socket.py)."""
    firm: bool = False
    """The reason holds on a scan sampled every 10 mm too (no bone, one bone, the bones in the wrong
    places): it does not hinge on a profile's detail (a flare, a length, a gap, a socket), which
    sampling can change. The survey of long scans stops on firm reasons only (core/inference/survey.py)."""

    @property
    def is_knee(self) -> bool:
        return not self.reason


def flare(
    area: np.ndarray,
    joint_index: int,
    away: int,
    slice_mm: float,
    near_mm: float = NEAR_MM,
    far_mm: tuple[float, float] = FAR_MM,
) -> float | None:
    """Largest cross-section within ``near_mm`` of ``joint_index`` over the median at ``far_mm``,
    walking ``away`` (+1 superior, -1 inferior); None when the bone or the scan ends before the far zone."""
    n = len(area)
    steps = np.arange(n)
    distance = (steps - joint_index) * away * slice_mm
    near = area[(distance >= 0) & (distance <= near_mm)]
    far = area[(distance >= far_mm[0]) & (distance <= far_mm[1])]
    present = area.max() * _PRESENT
    if near.size == 0 or far.size == 0 or np.any(far < present):
        return None
    return float(near.max() / max(float(np.median(far)), 1.0))


def _centre(area: np.ndarray) -> float:
    """Slice index of the bone's centre of volume."""
    return float(np.dot(np.arange(len(area)), area) / area.sum())


def bone_extent(area: np.ndarray) -> tuple[int, int]:
    """First and last slice holding a real share of the bone (stray voxels ignored)."""
    hits = np.flatnonzero(area >= area.max() * _PRESENT)
    return int(hits[0]), int(hits[-1])


def _length_reason(
    femur: tuple[int, int], tibia: tuple[int, int], slices: int, slice_mm: float, leaves_view: tuple[bool, bool]
) -> str:
    """Why the bones' extents (first, last slice) cannot be a knee's ('' if they can): too little of either
    in view, or one ending inside the scan short of a whole bone (a knee's femur runs on to the hip and its
    tibia to the ankle, so each leaves the scan unless the scan holds all of it). ``leaves_view``: the
    femur's far end, the tibia's far end runs out of the field of view sideways (it ends there, not in
    the patient)."""
    femur_mm, tibia_mm = (femur[1] - femur[0]) * slice_mm, (tibia[1] - tibia[0]) * slice_mm
    lengths = (("femur", femur_mm), ("tibia", tibia_mm))
    short = [f"{mm:.0f} mm of the {name}-like bone" for name, mm in lengths if mm < MIN_BONE_LENGTH_MM]
    if short:
        return f"the scan shows only {' and '.join(short)} (a knee CT shows more)"
    end = int(np.ceil(SCAN_END_MM / slice_mm))
    if femur[1] < slices - 1 - end and femur_mm < WHOLE_BONE_MM and not leaves_view[0]:
        return f"the femur-like bone ends inside the scan {femur_mm:.0f} mm above the joint, where a femur runs on to the hip"
    if tibia[0] > end and tibia_mm < WHOLE_BONE_MM and not leaves_view[1]:
        return f"the tibia-like bone ends inside the scan {tibia_mm:.0f} mm below the joint, where a tibia runs on to the ankle"
    return ""


def _leaves_view(
    femur: tuple[int, int], tibia: tuple[int, int], at_view_edge: tuple[np.ndarray, np.ndarray] | None, slice_mm: float
) -> tuple[bool, bool]:
    """Do the femur's top and the tibia's bottom (within :data:`SCAN_END_MM`) touch the field of view's edge?"""
    if at_view_edge is None:
        return False, False
    reach = int(np.ceil(SCAN_END_MM / slice_mm))
    femur_edge, tibia_edge = at_view_edge
    return (  # beyond the extent too: a bone thinning out at the view's edge falls under the extent's 5 %
        bool(femur_edge[max(femur[1] - reach, 0) :].any()),
        bool(tibia_edge[: tibia[0] + reach + 1].any()),
    )


def _plateau_reason(tibia_area: np.ndarray, tibia_top: int, gap: float, slice_mm: float) -> tuple[str, float | None]:
    """Why the tibia-like bone has no plateau ('' if it may), and its flare (None when the scan is too short)."""
    tibia_flare = flare(tibia_area, tibia_top, -1, slice_mm)
    if tibia_flare is not None:
        if tibia_flare < MIN_TIBIA_FLARE:
            return (
                "the tibia-like bone does not widen toward the joint as a tibial plateau does "
                f"(plateau over metaphysis {tibia_flare:.2f}, a knee's is at least {MIN_TIBIA_FLARE})"
            ), tibia_flare
        return "", tibia_flare
    if gap > MAX_UNCONFIRMED_GAP_MM:
        return f"femur and tibia {gap:.0f} mm apart and no tibial plateau in view", None
    short = flare(tibia_area, tibia_top, -1, slice_mm, SHORT_NEAR_MM, SHORT_FAR_MM)
    if short is not None and short < MIN_SHORT_TIBIA_FLARE:
        return (
            f"the tibia-like bone narrows toward the joint (its first 10 mm over 20-30 mm below: {short:.2f}), "
            "where a tibial plateau widens"
        ), None
    return "", None


def find_knee_joint(
    femur_area: np.ndarray,
    tibia_area: np.ndarray,
    slice_mm: float,
    voxel_ml: float,
    at_view_edge: tuple[np.ndarray, np.ndarray] | None = None,
) -> KneeJoint:
    """Judge one leg from its femur and tibia voxels per slice of the whole scan (inferior to superior:
    index 0 is the scan's most inferior slice). ``at_view_edge``: per slice (same order), whether the femur,
    the tibia touches the edge of the field of view there."""
    femur_ml, tibia_ml = float(femur_area.sum()) * voxel_ml, float(tibia_area.sum()) * voxel_ml
    if femur_ml < MIN_KNEE_BONE_ML and tibia_ml < MIN_KNEE_BONE_ML:
        return KneeJoint(f"less than {MIN_KNEE_BONE_ML:.0f} mL of femur and of tibia", firm=True)
    if min(femur_ml, tibia_ml) < MIN_KNEE_BONE_ML:
        only = "femur" if femur_ml >= MIN_KNEE_BONE_ML else "tibia"
        return KneeJoint(f"a {only} without a {'tibia' if only == 'femur' else 'femur'} (no knee joint)", firm=True)
    femur, tibia = bone_extent(femur_area), bone_extent(tibia_area)
    femur_centre, tibia_centre = _centre(femur_area), _centre(tibia_area)
    if femur_centre <= tibia_centre:
        return KneeJoint("the femur-like bone lies below the tibia-like one", firm=True)
    if tibia[1] >= femur_centre or femur[0] <= tibia_centre:
        return KneeJoint("the femur-like and tibia-like bones lie side by side, not one above the other", firm=True)
    gap = (femur[0] - tibia[1]) * slice_mm
    if gap > MAX_JOINT_GAP_MM:
        return KneeJoint(f"femur and tibia {gap:.0f} mm apart (no joint between them)", gap)
    too_short = _length_reason(
        femur, tibia, len(femur_area), slice_mm, _leaves_view(femur, tibia, at_view_edge, slice_mm)
    )
    if too_short:
        return KneeJoint(too_short, gap)
    femur_flare = flare(femur_area, femur[0], +1, slice_mm)
    no_plateau, tibia_flare = _plateau_reason(tibia_area, tibia[1], gap, slice_mm)
    return KneeJoint(no_plateau, gap, femur_flare, tibia_flare)


def superior_axis(direction: np.ndarray) -> tuple[int, float]:
    """The array axis (z, y, x order) closest to the patient's superior direction, and its sign."""
    itk_axis = int(np.argmax(np.abs(direction[2])))
    return 2 - itk_axis, float(np.sign(direction[2, itk_axis]) or 1.0)


def leg_joint(leg_labels: np.ndarray, box: tuple[slice, ...], ct: Volume, femur: int, tibia: int) -> KneeJoint:
    """The knee-joint test of one leg's decided labels ``leg_labels`` (the part ``box`` of the scan): femur and
    tibia voxels per slice along the body axis, over the whole scan so the bones' ends can be seen.

    A scan in which no leg passes holds no knee, and the rule discards its labels: a thigh, calf, hip
    or ankle scan must not come back as a femur and tibia (their shafts are bone a 2D network cannot
    tell from a long knee scan's)."""
    axis, sign = superior_axis(ct.direction)
    others = tuple(a for a in range(3) if a != axis)
    profiles = np.zeros((2, ct.shape[axis]))
    edges = np.zeros((2, ct.shape[axis]), dtype=bool)
    for row, bone in enumerate((femur, tibia)):
        mask = leg_labels == bone
        area = np.count_nonzero(mask, axis=others)
        profiles[row, box[axis]] = area
        edges[row, box[axis]] = at_view_edge(mask, area, box, ct, axis)
    femur_area, tibia_area = profiles[:, :: int(sign)]
    femur_edge, tibia_edge = edges[:, :: int(sign)]
    return find_knee_joint(
        femur_area, tibia_area, float(ct.spacing_zyx[axis]), ct.voxel_volume_ml, (femur_edge, tibia_edge)
    )


def at_view_edge(bone: np.ndarray, area: np.ndarray, box: tuple[slice, ...], ct: Volume, axis: int) -> np.ndarray:
    """Per slice of ``box`` along ``axis``: does ``bone`` (the box's mask; ``area``: its voxels per slice)
    touch the image's border or air/padding there (a bone cut by the field of view)? Only the slices at the
    bone's two ends are looked at (where the knee-joint test asks)."""
    others = tuple(a for a in range(3) if a != axis)
    present = np.flatnonzero(area)
    out = np.zeros(bone.shape[axis], dtype=bool)
    if present.size == 0:
        return out
    reach = int(np.ceil(SCAN_END_MM / ct.spacing_zyx[axis])) + 1
    ends = np.unique(np.concatenate([present[:reach], present[-reach:]]))
    border = {dim: (box[a].start == 0, box[a].stop == ct.shape[a]) for dim, a in enumerate(others)}
    for k in ends:
        plane = np.take(bone, k, axis=axis)
        where = list(box)
        where[axis] = box[axis].start + k
        out[k] = bool((plane & view_edge(np.asarray(ct.array[tuple(where)]), border, TWO_PIXELS)).any())
    return out
