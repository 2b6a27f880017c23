"""Ground truth of a phantom: its true landmarks, axes, angles and sizes (LPS mm).

The phantom's bones are implicit shapes in known frames. The renderer evaluates them on a
coarse grid (about 1.5 mm) and labels a voxel bone where the trilinear interpolation of that
field is negative, so the continuous bones the labels sample are the zero level of that
interpolated field (surface waves, osteophytes and the joint spacing included). The truth
samples that same field every 0.5 mm, only where the CT has slices, and applies the landmark
rules of :mod:`kneeseg_app.core.anatomy` to it starting from the *true* axes of the
generator's frames. The sizes' ends are then moved from that 0.5 mm sampling to the field's
zero crossing along the measuring direction (:mod:`phantom.exact_sizes`): a sampled end is up
to 0.25 mm off, more than planning's CT-refined sizes (:mod:`planning.ct_edges`) are.
:mod:`kneeseg_app.core.planning` applies the same rules to a label map from estimated
axes, so comparing both measures what planning adds: finding the axes, the knee's side,
voxel size and partial volume. A classic or wide phantom's posterior condylar angle is ~0
(the epicondyles and posterior condyles are symmetric about one axis); with the planning
anatomy pinned on (:func:`phantom.epicondyles.with_planning_anatomy`) ``LegTruth.drawn`` holds
the generator's own prominences, sulcus and posterior condylar angle as well.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from scipy import ndimage

from kneeseg_app.core.anatomy import (
    BoneCloud,
    FemurAnatomy,
    TibiaAnatomy,
    femur_anatomy,
    knee_measures,
    mask_points,
    tibia_anatomy,
)
from kneeseg_app.core.phantom import bones, epicondyles
from kneeseg_app.core.phantom.exact_sizes import exact_sizes
from kneeseg_app.core.phantom.frames import Frame, LegFrames, leg_frames
from kneeseg_app.core.phantom.grid import FAR, CoarseStack, FineGrid, coarse_factors
from kneeseg_app.core.phantom.params import LegParams, PhantomParams
from kneeseg_app.core.phantom.scene import BONE_GRID_MM, F_FEM, F_TIB, _leg_bone_stack

STEP_MM = 0.5
"""Sampling step of the continuous bone shapes (world grid)."""


@dataclass
class LegTruth:
    """The truth of one leg: exact landmark rules' results and derived values."""

    side: str
    femur: FemurAnatomy | None
    tibia: TibiaAnatomy | None
    measures: dict[str, float | None] = field(default_factory=dict)
    drawn: dict[str, np.ndarray | float] = field(default_factory=dict)
    """The generator's own planning anatomy (:mod:`phantom.epicondyles`), when drawn: the
    prominences ``prominence_medial``/``prominence_lateral`` and the ``sulcus`` floor (LPS mm),
    ``surgical_tea`` (unit vector, lateral prominence to sulcus) and
    ``posterior_condylar_angle_deg`` (against the surgical TEA with a sulcus, else the clinical)."""

    def point(self, name: str) -> np.ndarray | None:
        for bone in (self.femur, self.tibia):
            if bone is not None and bone.points.get(name) is not None:
                return bone.points[name]
        return None


@dataclass
class PhantomTruth:
    """Per-leg truth, in the order of ``params.legs``."""

    legs: list[LegTruth]

    def leg(self, side: str) -> LegTruth | None:
        return next((leg for leg in self.legs if leg.side == side), None)


def phantom_truth(params: PhantomParams) -> PhantomTruth:
    """The true landmarks of every leg whose femur and tibia are in the scan."""
    acq = params.acquisition
    grid = FineGrid(acq.shape_zyx, acq.spacing_zyx, acq.origin_xyz)
    factor = coarse_factors(acq.spacing_zyx, BONE_GRID_MM)
    legs = []
    for leg in params.legs:
        fr = leg_frames(leg)
        stack = _leg_bone_stack(grid, factor, params, leg, fr)
        femur = _cloud(stack, F_FEM, params) if stack is not None else None
        tibia = _cloud(stack, F_TIB, params) if stack is not None else None
        fem = femur_anatomy(femur, _axis(fr.femur, 2), _axis(fr.femur, 0)) if femur is not None else None
        tib = tibia_anatomy(tibia, _axis(fr.tibia, 2), _axis(fr.tibia, 0)) if tibia is not None else None
        for anatomy, index in ((fem, F_FEM), (tib, F_TIB)):
            if anatomy is not None:
                anatomy.sizes.update(exact_sizes(anatomy.extents, partial(_field_at, stack, index)))
        legs.append(LegTruth(leg.side, fem, tib, knee_measures(fem, tib, femur, tibia), _drawn(leg, fr)))
    return PhantomTruth(legs)


def _drawn(leg: LegParams, fr: LegFrames) -> dict[str, np.ndarray | float]:
    """The drawn prominences, sulcus, surgical TEA and posterior condylar angle (empty when not drawn)."""
    k = leg.shape
    if not epicondyles.active(k):
        return {}
    local = bones.femur_design_points(k, leg.gap_medial_mm, leg.gap_lateral_mm)
    out: dict[str, np.ndarray | float] = {name: fr.femur.to_world(p) for name, p in local.items()}
    medial = local.get("sulcus", local["prominence_medial"])
    tea = local["prominence_lateral"] - medial  # the posterior condylar axis is the femur frame's u
    out["posterior_condylar_angle_deg"] = math.degrees(math.atan2(tea[1], tea[0]))
    if "sulcus" in out:
        direction = out["sulcus"] - out["prominence_lateral"]  # as the plan's axis: from its first point
        out["surgical_tea"] = direction / np.linalg.norm(direction)
    return out


def _axis(frame: Frame, index: int) -> np.ndarray:
    direction = np.zeros(3)
    direction[index] = 1.0
    world = frame.direction_to_world(direction)
    return world / np.linalg.norm(world)


def _cloud(stack: CoarseStack, field: int, params: PhantomParams) -> BoneCloud | None:
    """The bone's continuous surface (the renderer's trilinear field) sampled every 0.5 mm."""
    data = stack.data[field]
    nodes = np.argwhere(data < 0)
    if len(nodes) == 0:
        return None
    grid, box = stack.grid, stack.box
    lo_node = np.maximum(nodes.min(axis=0) - 1, 0)
    hi_node = np.minimum(nodes.max(axis=0) + 1, np.array(data.shape) - 1)
    # world extent (x, y, z) of those nodes, clipped to the scan's slices
    lo_idx = (np.asarray(box.start) + lo_node) * np.asarray(box.factor)
    hi_idx = np.minimum((np.asarray(box.start) + hi_node) * np.asarray(box.factor), np.asarray(grid.shape) - 1)
    lo = np.array([grid.axis(2 - d, lo_idx[2 - d]) for d in range(3)])
    hi = np.array([grid.axis(2 - d, hi_idx[2 - d]) for d in range(3)])
    z_lo, z_hi = _scan_z(params)
    lo[2], hi[2] = max(lo[2], z_lo), min(hi[2], z_hi)
    axes = [np.arange(lo[i], hi[i] + STEP_MM / 2, STEP_MM) for i in range(3)]
    if min(len(a) for a in axes) < 2:
        return None
    mask = np.zeros((len(axes[2]), len(axes[1]), len(axes[0])), bool)
    node_xy = [(grid.index_of(d, axes[2 - d]) / box.factor[d]) - box.start[d] for d in (1, 2)]
    yy, xx = np.meshgrid(node_xy[0], node_xy[1], indexing="ij")
    for k, z in enumerate(axes[2]):
        nz = grid.index_of(0, float(z)) / box.factor[0] - box.start[0]
        coords = np.stack([np.full(yy.shape, nz), yy, xx])
        mask[k] = ndimage.map_coordinates(data, coords, order=1, mode="constant", cval=FAR) < 0

    def to_world(idx: np.ndarray) -> np.ndarray:
        return lo + idx[:, ::-1] * STEP_MM

    surface, inside = mask_points(mask, to_world)
    acq = params.acquisition
    return BoneCloud(surface, inside, np.array([0.0, 0.0, 1.0]), (z_lo, z_hi), float(max(acq.spacing_zyx)))


def _field_at(stack: CoarseStack, field: int, lps: np.ndarray) -> np.ndarray:
    """The renderer's trilinear field of one bone at LPS points (mm; negative inside)."""
    grid, box = stack.grid, stack.box
    nodes = [grid.index_of(d, lps[:, 2 - d]) / box.factor[d] - box.start[d] for d in range(3)]
    return ndimage.map_coordinates(stack.data[field], np.stack(nodes), order=1, mode="constant", cval=FAR)


def _scan_z(params: PhantomParams) -> tuple[float, float]:
    acq = params.acquisition
    z0 = acq.origin_xyz[2]
    return z0, z0 + (acq.shape_zyx[0] - 1) * acq.spacing_zyx[0]
