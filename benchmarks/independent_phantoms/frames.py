"""Where each leg's bones are: from LPS millimetres to one bone's own frame (EVALUATION ONLY, never training).

A leg's neutral frame has u lateral, v anterior, w superior (toward the hip), origin at
the joint centre. The femur, tibia and patella frames are the neutral frame turned about
the flexion axis through the condyle centres: the femur by half the flexion one way,
the tibia by the other half the other way (so the knee rises from the table as a
supine knee does), the patella sliding down the trochlea with flexion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.independent_phantoms.params import Leg

PIVOT_VW = (-6.0, 22.0)
"""(v, w) of the flexion axis in the neutral frame, before scaling: the condyle centres."""


def _rotation_z(degrees: float) -> np.ndarray:
    t = np.radians(degrees)
    return np.array([[np.cos(t), -np.sin(t), 0.0], [np.sin(t), np.cos(t), 0.0], [0.0, 0.0, 1.0]])


def _rotation_y(degrees: float) -> np.ndarray:
    t = np.radians(degrees)
    return np.array([[np.cos(t), 0.0, np.sin(t)], [0.0, 1.0, 0.0], [-np.sin(t), 0.0, np.cos(t)]])


def leg_axes(leg: Leg) -> np.ndarray:
    """3x3 matrix whose columns are the LPS directions of u (lateral), v (anterior), w (superior)."""
    lateral = -1.0 if leg.side == "right" else 1.0  # LPS +x is the patient's left
    base = np.array([[lateral, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]])
    return _rotation_z(leg.rotation_deg * lateral) @ _rotation_y(leg.tilt_deg * lateral) @ base


@dataclass(frozen=True)
class BoneFrame:
    """Coordinates of the same points in one bone's frame, in unscaled (template) millimetres."""

    u: np.ndarray
    v: np.ndarray
    w: np.ndarray


def flex_angles(leg: Leg) -> dict[str, float]:
    """Rotation (radians) of each bone's frame about the flexion axis."""
    flexion = np.radians(leg.flexion_deg)
    return {"femur": -0.5 * flexion, "tibia": 0.5 * flexion, "patella": 0.2 * flexion}


def to_neutral(leg: Leg, x: np.ndarray, y: np.ndarray, z: np.ndarray) -> BoneFrame:
    """LPS points -> the leg's neutral frame, divided by the leg's scale (template millimetres)."""
    axes = leg_axes(leg)
    dx, dy, dz = x - leg.knee_xyz[0], y - leg.knee_xyz[1], z - leg.knee_xyz[2]
    s = 1.0 / leg.scale
    return BoneFrame(
        u=(axes[0, 0] * dx + axes[1, 0] * dy + axes[2, 0] * dz) * s,
        v=(axes[0, 1] * dx + axes[1, 1] * dy + axes[2, 1] * dz) * s,
        w=(axes[0, 2] * dx + axes[1, 2] * dy + axes[2, 2] * dz) * s,
    )


def turn(neutral: BoneFrame, angle: float) -> BoneFrame:
    """Rotate about the flexion (u) axis through the pivot: neutral frame -> a bone's frame."""
    pv, pw = PIVOT_VW
    dv, dw = neutral.v - pv, neutral.w - pw
    c, s = np.float32(np.cos(angle)), np.float32(np.sin(angle))
    return BoneFrame(u=neutral.u, v=pv + c * dv - s * dw, w=pw + s * dv + c * dw)


def axis_points(leg: Leg, reach_mm: float = 450.0, step_mm: float = 10.0) -> np.ndarray:
    """LPS points along the leg's axis (hip side through the knee to the ankle side), shape (n, 3).

    Used for bounding boxes and the table height, so it follows the flexed thigh and shank.
    """
    axes = leg_axes(leg)
    angles = flex_angles(leg)
    pivot = np.array([0.0, PIVOT_VW[0], PIVOT_VW[1]])
    points = []
    for bone, sign in (("femur", 1.0), ("tibia", -1.0)):
        t = np.arange(0.0, reach_mm / leg.scale, step_mm)
        local = np.stack([np.zeros_like(t), np.zeros_like(t), sign * t], axis=1) - pivot
        a = -angles[bone]  # bone frame -> neutral frame is the inverse turn
        rot = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
        neutral = local @ rot.T + pivot
        points.append(neutral * leg.scale @ axes.T + np.asarray(leg.knee_xyz))
    return np.concatenate(points)
