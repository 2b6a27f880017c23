"""One piece of bone in both legs: two femurs joined through a pelvis the network labelled femur.

A hip-to-ankle scan of both legs holds the pubic bones between the femoral heads. Where the network
labels them femur, both femurs are one 26-connected piece: the anatomy rule then sees one leg with two
femurs (and the other leg's tibia without a femur, no knee), and the acetabulum trim cannot tell whose
head is whose, so the pelvis stays femur (seed 97002 of ``bench_long_scans.py``: femur HD95 16 mm, the
plan's hip-knee-ankle angle 8.8 deg off).

Such a piece shows itself slice by slice: over a length of leg it holds two bones of similar size
further apart left to right than the bones of one leg are. It is cut at the sagittal plane midway
between them, where the pelvis' two halves meet (the pubic symphysis), and each half is a leg's.
Pieces narrower than :data:`MAX_ONE_LEG_MM` left to right (every bone of one leg) are never looked at,
so a knee scan costs nothing and changes nothing.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage

from kneeseg_app.core.inference.knee_joint import superior_axis
from kneeseg_app.core.inference.piece_sums import index_sums
from kneeseg_app.core.volume import Volume

LEG_GAP_MM = 45.0
"""Bones whose left/right centres differ by more than this belong to different legs."""
MAX_ONE_LEG_MM = 130.0
"""No bone of one leg is wider than this left to right (a tibial plateau with osteophytes and the fibular
head: about 100 mm); a piece this wide may hold both legs."""
SIMILAR_SHARE = 0.5
"""Two bones of one slice are two legs' when the smaller has at least this share of the larger's area
(a fibula beside its tibia, a patella in front of its femur have less); and the piece is cut only when
the smaller half holds at least this share of the larger (two legs' bones are alike: a femur with the
pubic bone or ischium beside its head, labelled femur, is far larger than that pelvis)."""
TWO_LEGS_MM = 20.0
"""A piece holds both legs when its slices show two legs' bones over at least this length."""


def lr_width_mm(found: tuple[slice, ...], start: np.ndarray, ct: Volume) -> float:
    """How far the box ``found`` (of a part of the scan that begins at voxel ``start``) reaches left to right
    (LPS x)."""
    corners = np.array(list(itertools.product(*[(s.start, s.stop - 1) for s in found])), dtype=np.float64)
    x = ct.index_to_lps(corners + start)[:, 0]
    return float(x.max() - x.min())


def leg_midline_mm(mask: np.ndarray, offset: np.ndarray, ct: Volume) -> float | None:
    """The LPS x of the sagittal plane between two legs' bones in ``mask`` (a piece's box, ``offset``
    voxels into the scan), or None when no length of its slices holds two legs' bones."""
    axis, _ = superior_axis(ct.direction)
    in_plane = np.zeros((3, 3, 3), dtype=bool)
    middle: list[slice | int] = [slice(None)] * 3
    middle[axis] = 1
    in_plane[tuple(middle)] = True
    blobs, count = ndimage.label(mask, structure=in_plane)
    if count < 2:
        return None
    where = np.flatnonzero(blobs)
    ids = blobs.ravel()[where]
    area = np.bincount(ids, minlength=count + 1)
    centres = index_sums(where, ids, blobs.shape, count) / np.maximum(area, 1)[:, None] + offset
    x = ct.index_to_lps(centres)[:, 0]
    level = np.array([-1] + [box[axis].start for box in ndimage.find_objects(blobs)])  # each blob is one slice
    midpoints = []
    for k in np.unique(level[1:]):
        here = np.flatnonzero(level == k)
        if here.size < 2:
            continue
        first, second = here[np.argsort(-area[here])[:2]]
        if area[second] >= SIMILAR_SHARE * area[first] and abs(x[first] - x[second]) > LEG_GAP_MM:
            midpoints.append(0.5 * (x[first] + x[second]))
    if len(midpoints) * ct.spacing_zyx[axis] < TWO_LEGS_MM:
        return None
    return float(np.median(midpoints))


def split_across_legs(pieces: np.ndarray, count: int, ct: Volume, box: tuple[slice, ...]) -> int:
    """Cut, in place, each piece of ``pieces`` (ids 1..``count``; the part ``box`` of ``ct``) that holds
    both legs' bones at the sagittal plane between them: the part on the left (LPS +x) gets a new id
    after ``count``. Returns the new number of pieces."""
    start = np.array([s.start for s in box], dtype=np.float64)
    total = count
    for index, found in enumerate(ndimage.find_objects(pieces)[:count], start=1):
        if found is None:
            continue
        if lr_width_mm(found, start, ct) <= MAX_ONE_LEG_MM:
            continue
        offset = start + np.array([s.start for s in found], dtype=np.float64)
        local = pieces[found]
        mask = local == index
        midline = leg_midline_mm(mask, offset, ct)
        if midline is None:
            continue
        voxels = np.nonzero(mask)
        left = ct.index_to_lps(np.stack(voxels, axis=1) + offset)[:, 0] > midline
        halves = sorted((int(np.count_nonzero(left)), int(np.count_nonzero(~left))))
        if halves[0] < SIMILAR_SHARE * halves[1]:
            continue  # one leg's bone and a smaller neighbour (pelvis beside a femoral head), not two legs
        total += 1
        local[tuple(v[left] for v in voxels)] = total
    return total
