"""The other leg cut lengthwise by the field of view: its bone is kept, femur above the knee's joint level.

A field of view centred on one knee can cut the other leg lengthwise, so that only slivers of its femur
and tibia lie along the image's edge. They are far smaller than the knee's bones, and the anatomy rule's
size filters, meant for patellae, fibulae and stray islands, dropped them with the network's labels
(wide phantom 98013, 45 deg flexion on 5 mm slices: a 9,800-voxel sliver of the other femur, 8 % of the
femur's truth, which the network labelled 72 % femur and 28 % tibia). A piece of dense bone inside the
body that lies in a leg of its own (farther left or right from every bone of the kept legs than one leg
is wide), that the view's edge cuts (it touches the image's border or the padding around the
reconstruction circle) and that reaches near the knee's joint level is such a sliver: both knees of one
scan lie at about the same height, so its slices above the joint level are femur and those below tibia
(as ``joint_level.part_at_level`` parts a leg). A fibula or patella of the knee's own leg lies within one
leg's width of its bones and is never looked at here.
"""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.inference.densities import TWO_PIXELS, view_edge
from kneeseg_app.core.inference.joint_level import first_tibia_slice
from kneeseg_app.core.inference.knee_joint import superior_axis
from kneeseg_app.core.volume import Volume

MIN_ML = 2.0
"""Smaller pieces stay dropped: a sliver this small moves no surface a surgeon plans on."""
NEAR_JOINT_MM = 50.0
"""A sliver reaches this close to the knee's joint level: the other knee lies at the same height, while
a hip-to-ankle scan's pelvis and femoral heads, also cut by a narrow field and dropped as small pieces,
lie 350 mm and more above it (seeds 97001, 97006: pelvis called femur)."""


def label_other_leg(
    region: np.ndarray,
    pieces: np.ndarray,
    extents: list[tuple[slice, ...] | None],
    candidates: list[int],
    box: tuple[slice, ...],
    ct: Volume,
    level: float,
    bones: tuple[int, int],
) -> dict[int, int]:
    """Label, in ``region`` (the scan's ``box``), each piece of ``candidates`` (ids in the piece map
    ``pieces``, boxes ``extents``) that is large enough, cut by the view's edge and near the joint: femur in the slices
    down to the knee's joint ``level`` (an index along the body axis of ``box``, counted from its superior
    end), tibia below; returns the voxels labelled per bone."""
    femur, tibia = bones
    axis, sign = superior_axis(ct.direction)
    added = {femur: 0, tibia: 0}
    voxel_ml = float(np.prod(ct.spacing_zyx)) / 1000.0
    for index in candidates:
        extent = extents[index - 1]
        if extent is None:
            continue
        slices = np.arange(extent[axis].start, extent[axis].stop)
        from_top = region.shape[axis] - 1 - slices if sign > 0 else slices
        if np.abs(from_top - level).min() * ct.spacing_zyx[axis] > NEAR_JOINT_MM:
            continue
        mask = pieces[extent] == index
        if np.count_nonzero(mask) * voxel_ml < MIN_ML or not _cut_by_view(mask, extent, box, ct, axis):
            continue
        shape = [1, 1, 1]
        shape[axis] = -1
        above = (from_top < first_tibia_slice(level)).reshape(shape)
        labels = np.broadcast_to(np.where(above, femur, tibia), mask.shape)
        region[extent][mask] = labels[mask]
        for bone in bones:
            added[bone] += int(np.count_nonzero(labels[mask] == bone))
    return added


def _cut_by_view(mask: np.ndarray, extent: tuple[slice, ...], box: tuple[slice, ...], ct: Volume, axis: int) -> bool:
    """Does the piece ``mask`` (its box ``extent`` inside the scan's ``box``) touch the image's border or
    air/padding in any of its slices?"""
    others = [a for a in range(3) if a != axis]
    grown = []  # the piece's in-plane box, two pixels wider, in the scan's coordinates
    for a in others:
        start = box[a].start + extent[a].start
        grown.append(slice(max(start - 2, 0), min(box[a].start + extent[a].stop + 2, ct.shape[a])))
    border = {dim: (grown[dim].start == 0, grown[dim].stop == ct.shape[a]) for dim, a in enumerate(others)}
    inner = tuple(
        slice(box[a].start + extent[a].start - grown[dim].start, box[a].start + extent[a].stop - grown[dim].start)
        for dim, a in enumerate(others)
    )
    for k in np.flatnonzero(np.any(mask, axis=tuple(others))):
        where: list[slice | int] = [slice(None)] * 3
        where[axis] = box[axis].start + extent[axis].start + int(k)
        for dim, a in enumerate(others):
            where[a] = grown[dim]
        edge = view_edge(np.asarray(ct.array[tuple(where)]), border, TWO_PIXELS)
        if (np.take(mask, int(k), axis=axis) & edge[inner]).any():
            return True
    return False
