"""Where each bone of a phantom leg sits: affine maps from LPS millimetres to bone frames.

A leg is described in knee-local coordinates ``(u, v, w)`` = (lateral, posterior,
superior) with the origin at the centre of the tibial plateau. The right leg's lateral
side is the patient's right (-x), so mirroring is part of the map and the same anatomy
code draws both legs. Flexion rotates the tibia (and, partly, the femur and patella)
about the medio-lateral axis through the posterior femoral condyles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.phantom.params import LegParams


@dataclass(frozen=True)
class Frame:
    """World (LPS, mm) -> local (u, v, w) affine map, stored as a 3x4 matrix."""

    matrix: np.ndarray

    def coords(self, xs: np.ndarray, ys: np.ndarray, zs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Local coordinates of the grid ``zs x ys x xs`` (1D LPS axes) as float32 3D arrays."""
        x = np.asarray(xs, dtype=np.float64)[None, None, :]
        y = np.asarray(ys, dtype=np.float64)[None, :, None]
        z = np.asarray(zs, dtype=np.float64)[:, None, None]
        out = []
        for row in self.matrix:
            part_z = (row[2] * z + row[3]).astype(np.float32)
            part_y = (row[1] * y).astype(np.float32)
            part_x = (row[0] * x).astype(np.float32)
            out.append((part_z + part_y) + part_x)
        return out[0], out[1], out[2]

    def to_world(self, local: np.ndarray) -> np.ndarray:
        """LPS positions of local points given as (..., 3)."""
        linear, shift = self.matrix[:, :3], self.matrix[:, 3]
        return (np.asarray(local, dtype=np.float64) - shift) @ np.linalg.inv(linear).T

    def to_local(self, world: np.ndarray) -> np.ndarray:
        return np.asarray(world, dtype=np.float64) @ self.matrix[:, :3].T + self.matrix[:, 3]

    def direction_to_world(self, local_dir: np.ndarray) -> np.ndarray:
        return np.asarray(local_dir, dtype=np.float64) @ np.linalg.inv(self.matrix[:, :3]).T


@dataclass(frozen=True)
class LegFrames:
    """The frames of one leg's bones and soft tissue."""

    leg: Frame
    femur: Frame
    tibia: Frame
    patella: Frame
    mid: Frame
    axis_w: float


def _affine(linear: np.ndarray, shift: np.ndarray) -> np.ndarray:
    return np.hstack([linear, shift[:, None]])


def _sagittal_rotation(angle_deg: float, axis_w: float) -> np.ndarray:
    """Leg -> bone map for a bone turned by ``angle_deg`` about the flexion axis (v=0, w=axis_w)."""
    a = math.radians(angle_deg)
    c, s = math.cos(a), math.sin(a)
    linear = np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])
    shift = linear @ np.array([0.0, 0.0, -axis_w]) + np.array([0.0, 0.0, axis_w])
    return _affine(linear, shift)


def _compose(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    linear = outer[:, :3] @ inner[:, :3]
    shift = outer[:, :3] @ inner[:, 3] + outer[:, 3]
    return _affine(linear, shift)


def _coronal_rotation(leg: LegParams) -> np.ndarray:
    """Tibia -> tibia map of a varus (+) or valgus (-) knee: turned about the AP axis through the
    collapsed compartment, so the distal tibia swings medially (varus) and the other side opens."""
    a = math.radians(leg.varus_deg)
    c, s = math.cos(a), math.sin(a)
    k = leg.shape
    half = k.notch_half_width + (k.cond_half_width_med if a > 0 else k.cond_half_width_lat)
    pivot = np.array([-half if a > 0 else half, 0.0, 0.0])
    linear = np.array([[c, 0.0, -s], [0.0, 1.0, 0.0], [s, 0.0, c]])
    return _affine(linear, pivot - linear @ pivot)


def leg_frames(leg: LegParams) -> LegFrames:
    """Frames of a leg from its pose: position, axial rotation, abduction, flexion."""
    g = math.radians(leg.axial_rotation_deg)
    b = math.radians(leg.abduction_deg)
    mirror = -1.0 if leg.side == "right" else 1.0
    rot_z = np.array([[math.cos(g), math.sin(g), 0.0], [-math.sin(g), math.cos(g), 0.0], [0.0, 0.0, 1.0]])
    flip = np.diag([mirror, 1.0, 1.0])
    abduct = np.array([[math.cos(b), 0.0, math.sin(b)], [0.0, 1.0, 0.0], [-math.sin(b), 0.0, math.cos(b)]])
    linear = abduct @ flip @ rot_z
    leg_m = _affine(linear, -linear @ np.asarray(leg.knee_lps, dtype=np.float64))
    axis_w = leg.shape.cond_radius + 0.5 * (leg.gap_medial_mm + leg.gap_lateral_mm)
    tilt, flex = leg.femur_tilt_deg, leg.flexion_deg

    def bone(angle: float) -> Frame:
        return Frame(_compose(_sagittal_rotation(angle, axis_w), leg_m))

    tibia = bone(tilt + flex)
    if leg.varus_deg != 0.0:
        tibia = Frame(_compose(_coronal_rotation(leg), tibia.matrix))
    return LegFrames(
        leg=Frame(leg_m),
        femur=bone(tilt),
        tibia=tibia,
        patella=bone(tilt + leg.patella_tracking * flex),
        mid=bone(tilt + 0.5 * flex),
        axis_w=axis_w,
    )
