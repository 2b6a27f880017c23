"""One leg's tissues at a set of points: every layer's distance plus the bone densities inside.

EVALUATION ONLY, never training. Bone distances are only evaluated near the bone axes
(points far from them cannot be bone), which keeps a 512x512x300 case to about a minute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.independent_phantoms import bones
from benchmarks.independent_phantoms.frames import BoneFrame, flex_angles, to_neutral, turn
from benchmarks.independent_phantoms.params import Leg
from benchmarks.independent_phantoms.soft import SoftFields, soft_fields

FAR = np.float32(1e3)


@dataclass
class LegFields:
    """Distances (mm) and bone-interior HU of one leg at a set of points."""

    soft: SoftFields
    femur: np.ndarray
    tibia: np.ndarray
    fibula: np.ndarray
    patella: np.ndarray
    cartilage: np.ndarray
    bone_hu: dict[str, np.ndarray]
    """bone name -> HU of its inside at each point (cortex, cancellous, marrow, sclerosis)."""
    box: tuple[slice, slice] = (slice(None), slice(None))
    """Where in the slice these points lie (set by the renderer)."""
    leg: Leg | None = None


def _near(frame: BoneFrame, radius: float, centre_u: np.ndarray | float = 0.0) -> np.ndarray:
    return (frame.u - centre_u) ** 2 + frame.v**2 < radius * radius


def _on(mask: np.ndarray, frame: BoneFrame) -> BoneFrame:
    return BoneFrame(frame.u[mask], frame.v[mask], frame.w[mask])


def _scatter(mask: np.ndarray, values: np.ndarray, fill: float) -> np.ndarray:
    out = np.full(mask.shape, fill, dtype=np.float32)
    out[mask] = values
    return out


def _wobble(frame: BoneFrame, seed: int) -> np.ndarray:
    """Small per-leg surface irregularity (0.5 mm) so no two bones are the same template."""
    rng = np.random.default_rng(seed)
    k = rng.uniform(0.04, 0.12, size=(3, 3)) * rng.choice([-1, 1], size=(3, 3))
    phase = rng.uniform(0, 2 * np.pi, 3)
    return sum(
        0.25 * np.sin(k[i, 0] * frame.u + k[i, 1] * frame.v + k[i, 2] * frame.w + phase[i]) for i in range(3)
    ).astype(np.float32)


def _trabecular(frame: BoneFrame, seed: int) -> np.ndarray:
    """Trabecular texture: many crossing plane waves of 1.0-3.5 mm wavelength, roughly in [-1, 1]."""
    rng = np.random.default_rng(seed + 1)
    total = np.zeros(frame.u.shape, dtype=np.float32)
    for _ in range(9):
        direction = rng.normal(size=3)
        direction *= 2 * np.pi / rng.uniform(1.0, 3.5) / np.linalg.norm(direction)
        total += np.cos(
            direction[0] * frame.u + direction[1] * frame.v + direction[2] * frame.w + rng.uniform(0, 2 * np.pi)
        )
    return np.clip(total / 4.0, -1.0, 1.0)


def _bone_hu(leg: Leg, frame: BoneFrame, depth_mm: np.ndarray, bone: str, joint_depth: np.ndarray) -> np.ndarray:
    """HU inside a bone: cortex shell, cancellous or fatty marrow, sclerosis under the joint surface."""
    cortex = bones.cortex_mm(frame.w, bone) * leg.scale
    mix = bones.marrow_mix(frame.w, bone)
    spongy = leg.cancellous_hu * (1.0 + 0.5 * _trabecular(frame, leg.shape_seed))
    inside = leg.marrow_hu + (spongy - leg.marrow_hu) * mix
    sclerosis = leg.disease.sclerosis_hu * np.clip(1.0 - joint_depth / 7.0, 0.0, 1.0)
    shell = np.clip((cortex - depth_mm) / 0.8 + 0.5, 0.0, 1.0)
    return (inside + sclerosis) * (1.0 - shell) + leg.cortical_hu * shell


def leg_fields(leg: Leg, x: np.ndarray, y: np.ndarray, z: np.ndarray, soft: SoftFields | None = None) -> LegFields:
    """Everything about ``leg`` at LPS points (x, y, z) of equal shape (float32).

    ``soft``: soft-tissue fields to reuse (from the slice's centre plane: soft tissue changes
    slowly along the leg, so only bone is supersampled across the slice thickness).
    """
    neutral = to_neutral(leg, x, y, z)
    angles = flex_angles(leg)
    fem, tib, pat = (turn(neutral, angles[b]) for b in ("femur", "tibia", "patella"))
    soft = soft if soft is not None else soft_fields(leg, neutral, fem, tib)
    s = leg.scale
    lean, _ = bones.femur_shaft_centre(fem.w)
    fem_mask = _near(fem, 62.0, lean) & (fem.w > -15.0)
    tib_mask = _near(tib, 62.0) & (tib.w < 25.0)
    f_sub, t_sub = _on(fem_mask, fem), _on(tib_mask, tib)
    femur = _scatter(fem_mask, bones.femur(f_sub, leg.disease, _wobble(f_sub, leg.shape_seed)) * s, FAR)
    tibia = _scatter(tib_mask, bones.tibia(t_sub, leg.disease, _wobble(t_sub, leg.shape_seed + 7)) * s, FAR)
    fibula = _scatter(tib_mask, bones.fibula(t_sub) * s, FAR)
    pat_mask = (pat.v > 15.0) & (np.abs(pat.u) < 40.0) & (np.abs(pat.w - 40.0) < 40.0)
    patella = _scatter(pat_mask, bones.patella(_on(pat_mask, pat)) * s, FAR)
    joint = (np.abs(fem.w) < 45.0) | (np.abs(tib.w) < 20.0)
    cartilage = np.where(joint, np.minimum(np.abs(femur + 0.0) - 2.4, np.abs(tibia) - 2.0), FAR)
    cartilage = np.minimum(cartilage, np.where(pat_mask, np.abs(patella) - 2.0, FAR))
    f_joint = np.clip(fem.w, 0.0, None) * s  # sclerosis sits under the articular surface
    t_joint = np.clip(-tib.w - leg.disease.joint_space_mm[0], 0.0, None) * s
    no_joint = np.full(fem.w.shape, 99.0, dtype=np.float32)
    parts = {
        "femur": (femur, fem, "femur", f_joint),
        "tibia": (tibia, tib, "tibia", t_joint),
        "fibula": (fibula, tib, "tibia", no_joint),
        "patella": (patella, pat, "femur", no_joint),
    }
    bone_hu = {}
    for name, (dist, frame, kind, joint_depth) in parts.items():
        inside = dist < 1.0  # only where the bone covers some of a pixel
        bone_hu[name] = _scatter(
            inside, _bone_hu(leg, _on(inside, frame), -dist[inside], kind, joint_depth[inside]), 0.0
        )
    return LegFields(soft, femur, tibia, fibula, patella, cartilage, bone_hu)
