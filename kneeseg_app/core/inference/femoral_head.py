"""The acetabulum off the femur: where a long scan reaches the hip, the femur ends at its head.

A 2D network sees the acetabulum's dome over the femoral head as more femoral head, and the
iliac bone above it as more femur (a hip-to-ankle phantom on 3 mm slices: femur HD95 12 mm,
labels 57 mm above the head; the plan's sphere fit, which takes the femur's top, put the head
centre 52 mm too high and the hip-knee-ankle angle 1.3 deg off). The CT shows the head as a
sphere of bone:

1. its centre is found by a Hough vote: every strong edge of the femur's top 90 mm votes along
   its gradient (toward denser bone) at 12-32 mm. The head's surface votes for its centre from
   every side; the cup's inner surface votes away from it (the cup is the denser side there);
2. the sphere is fitted (least squares, refitted to the edges within a few mm of it) to the
   edges of its *lower* half only: the upper half lies against the cup, and on slices of a few
   millimetres the head's top and the cup's dome blur into one. Those edges must wrap the lower
   half (a femoral shaft's edges vote for its axis too, but only a ring of them lies at one
   distance from a point on it) and the radius must be a head's, not a shaft's;
3. femur voxels more than :data:`HEAD_MARGIN_MM` outside that sphere and more than
   :data:`NECK_CONE_DEG` from the neck's direction (the acetabulum, its rim and the pelvis) are not
   femur; neither is what they joined to the femur.

Nothing is changed unless the femur is long enough to reach the hip, the sphere is a convincing
femoral head, the whole head is in the scan (a scan whose last slice cuts the head leaves it be), and
the piece is one femur (both femurs joined through labelled pelvis are left as they are).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kneeseg_app.core.anatomy.ends import fit_sphere
from kneeseg_app.core.inference.bone_ends import Box, end_box, labelled_length_mm, length_mm, trim_each_piece
from kneeseg_app.core.inference.knee_joint import superior_axis
from kneeseg_app.core.volume import Volume

MIN_FEMUR_MM = 250.0
"""A femur shorter than this in the scan does not reach its head (an adult femur is 400-500 mm)."""
HEAD_REGION_MM = 130.0
"""The femur's top searched for its head: head, neck and trochanters, below up to 60 mm of pelvis
labelled femur."""
REGION_MARGIN_MM = 20.0
"""In-plane margin around the femur's top (the head's edges lie at the label's border)."""
RADIUS_MM = (16.0, 32.0)
"""Femoral head radii looked for (adults: 18-28 mm; a femoral shaft's is 12-16 mm)."""
EDGE_HU_PER_MM = 150.0
"""An edge: CT numbers changing faster than this (a cortex against cartilage or fat: 300-800)."""
EDGE_SIGMA_MM = 1.0
"""Smoothing of the gradient (noise)."""
VOTE_GRID_MM = 2.0
"""Cell of the Hough accumulator."""
FIT_BAND_MM = (4.0, 2.0)
"""Edges within this of the sphere are refitted: the first two fits, then the last three."""
LOWER_HALF_MM = 3.0
"""Only edges this far below the centre are fitted (the upper half lies against the cup)."""
HEAD_MARGIN_MM = 2.5
"""Labels farther than this outside the head, on the acetabular side, are trimmed (the head's blurred
cortex reaches about 1.5 mm past the fitted surface)."""
PELVIS_REACH_MM = 90.0
"""The acetabulum and the pelvis the network labels femur lie within this of the head's centre (the iliac
labels of a hip-to-ankle phantom reached 80 mm)."""
SHAFT_SHARE = 0.2
"""Pieces of the head box's lowest slice at least this share of the largest are femoral shafts: two mean
both femurs are one piece through pelvis labelled femur (touching legs, 2.5 mm slices: the trim took
36,000 voxels of the other femur's trochanter), and the piece is left as it is."""
NECK_CONE_DEG = 60.0
"""Around the neck's direction from the head's centre lie neck, trochanters and shaft (the greater
trochanter's tip about 45 deg from it); beyond, outside the head, lie the acetabulum and its rim."""
MIN_DEPTH = 0.28
"""The fitted edges must wrap the head's lower half: their mean depth below the centre, over the radius,
is at least this. Measured: 0.40 and 0.42 on heads (the neck hides the bottom; an evenly covered half
gives 0.57), 0.15 on a shaft's rounded end (a ring of edges near the centre's height)."""
MIN_EDGES = 100
"""Fewer fitted edges than this is no head found."""
MIN_HEAD_FILL = 0.7
"""The network must have labelled at least this share of the inner head (0.8 of the radius) femur."""


@dataclass(frozen=True)
class Sphere:
    """A femoral head: centre (array indices, float, in the box it was sought in) and radius (mm)."""

    centre_index: np.ndarray
    radius_mm: float


def trim_acetabulum(labels: np.ndarray, ct: Volume, femur: int) -> int:
    """Remove, in place, the acetabulum and pelvis labelled as femur at the top of each femur that
    reaches its head in the scan; returns the voxels removed."""
    axis, sign = superior_axis(ct.direction)
    if labelled_length_mm(labels, femur, ct.spacing_zyx, axis) < MIN_FEMUR_MM:
        return 0  # no femur piece can reach its head (every knee scan)

    def head_region(found: Box) -> Box | None:
        if length_mm(found, ct.spacing_zyx, axis) < MIN_FEMUR_MM:
            return None
        return end_box(found, ct.shape, ct.spacing_zyx, axis, sign > 0, HEAD_REGION_MM, REGION_MARGIN_MM)

    def pelvis(mine: np.ndarray, box: Box) -> np.ndarray | None:
        if _shafts_entering(mine, axis, sign) > 1:
            return None  # both femurs still one piece (not cut between the legs): whose bone is whose is unclear
        head = find_head(np.asarray(ct.array[box]), mine, ct.spacing_zyx, axis, sign)
        if head is None or not _head_in_scan(head, box, axis, sign, ct):
            return None
        return _acetabular_side(mine, head, ct.spacing_zyx, axis, sign)

    return trim_each_piece(labels, ct, femur, head_region, pelvis)


def _shafts_entering(femur: np.ndarray, axis: int, sign: float) -> int:
    """How many femoral shafts enter the head's box from below (its lowest slice's large pieces)."""
    lowest = femur[_lowest_slice(femur.shape, axis, sign)]
    pieces, count = ndimage.label(lowest)
    if count < 2:
        return count
    sizes = np.bincount(pieces.ravel())[1:]
    return int(np.count_nonzero(sizes >= SHAFT_SHARE * sizes.max()))


def _head_in_scan(head: Sphere, box: Box, axis: int, sign: float, ct: Volume) -> bool:
    """Does the whole head (``box``-local) lie inside the scan, a slice short of its last?"""
    head_top = box[axis].start + head.centre_index[axis] + sign * head.radius_mm / ct.spacing_zyx[axis]
    return 1.0 <= head_top <= ct.shape[axis] - 2.0


def _upward(array: np.ndarray, axis: int, sign: float) -> np.ndarray:
    """A view of ``array`` with the superior axis first, growing superior."""
    view = np.moveaxis(array, axis, 0)
    return view if sign > 0 else view[::-1]


def _upward_spacing(spacing_zyx: tuple[float, float, float], axis: int) -> np.ndarray:
    return np.array([spacing_zyx[axis]] + [s for a, s in enumerate(spacing_zyx) if a != axis])


def find_head(
    hu: np.ndarray, femur: np.ndarray, spacing_zyx: tuple[float, float, float], axis: int, sign: float
) -> Sphere | None:
    """The femoral head in a box around a femur's top (``femur``: its labels there), or None."""
    up_hu, up_femur = _upward(hu, axis, sign), _upward(femur, axis, sign)
    spacing = _upward_spacing(spacing_zyx, axis)
    points, normals = _edges(up_hu, up_femur, spacing)
    if len(points) < MIN_EDGES:
        return None
    centre = _hough_centre(points, normals, up_hu.shape, spacing)
    fitted = _fit_lower_half(points, normals, centre)
    if fitted is None:
        return None
    centre, radius = fitted
    if not (RADIUS_MM[0] <= radius <= RADIUS_MM[1]) or not _labelled_head(up_femur, centre, radius, spacing):
        return None
    index_up = centre / spacing
    along = index_up[0] if sign > 0 else up_hu.shape[0] - 1 - index_up[0]
    index = np.insert(index_up[1:], axis, along)
    return Sphere(index, radius)


def _edges(hu: np.ndarray, femur: np.ndarray, spacing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Strong edges near the femur's labels: positions (mm) and unit gradients (toward denser tissue)."""
    smooth = hu.astype(np.float32)
    sigma = [EDGE_SIGMA_MM / s for s in spacing]
    grad = np.stack(
        [
            ndimage.gaussian_filter(smooth, sigma, order=tuple(int(a == b) for b in range(3))) / spacing[a]
            for a in range(3)
        ],
        axis=-1,
    )
    magnitude = np.linalg.norm(grad, axis=-1)
    near = ndimage.binary_dilation(femur, iterations=3)
    edge = near & (magnitude > EDGE_HU_PER_MM)
    return np.argwhere(edge) * spacing, grad[edge] / magnitude[edge][:, None]


def _hough_centre(points: np.ndarray, normals: np.ndarray, shape: tuple[int, ...], spacing: np.ndarray) -> np.ndarray:
    """The point (mm) most edges point at from a head radius away."""
    cells = np.array([int(np.ceil(n * s / VOTE_GRID_MM)) + 1 for n, s in zip(shape, spacing)])
    votes = np.zeros(cells, dtype=np.float32)
    for radius in np.arange(RADIUS_MM[0], RADIUS_MM[1] + 0.5, 1.0):
        cell = np.round((points + radius * normals) / VOTE_GRID_MM).astype(np.int64)
        inside = np.all((cell >= 0) & (cell < cells), axis=1)
        np.add.at(votes, tuple(cell[inside].T), 1.0)
    votes = ndimage.gaussian_filter(votes, 1.0)
    return np.array(np.unravel_index(int(np.argmax(votes)), votes.shape), dtype=float) * VOTE_GRID_MM


def _fit_lower_half(points: np.ndarray, normals: np.ndarray, centre: np.ndarray) -> tuple[np.ndarray, float] | None:
    """Sphere fitted to the edges facing ``centre`` in its lower half, refitted to those near it."""
    radius = _likeliest_radius(points, normals, centre)
    for band in (FIT_BAND_MM[0],) * 2 + (FIT_BAND_MM[1],) * 3:
        offset = points - centre
        distance = np.linalg.norm(offset, axis=1)
        facing = np.einsum("ij,ij->i", normals, -offset / np.maximum(distance, 1e-6)[:, None]) > 0.7
        near = facing & (np.abs(distance - radius) < band) & (offset[:, 0] < -LOWER_HALF_MM)
        if np.count_nonzero(near) < MIN_EDGES:
            return None
        centre, radius = fit_sphere(points[near])
    depth = float(np.mean(centre[0] - points[near][:, 0])) / max(radius, 1e-6)
    return (centre, radius) if depth >= MIN_DEPTH else None


def _likeliest_radius(points: np.ndarray, normals: np.ndarray, centre: np.ndarray) -> float:
    """The head radius: the innermost distance (1 mm bins, smoothed) at which many edges of the lower half
    face ``centre`` (at least half the most at any distance: the cup's outer surface faces it too, farther out)."""
    offset = points - centre
    distance = np.linalg.norm(offset, axis=1)
    facing = np.einsum("ij,ij->i", normals, -offset / np.maximum(distance, 1e-6)[:, None]) > 0.8
    lower = offset[:, 0] < -LOWER_HALF_MM
    lo, hi = RADIUS_MM
    inside = facing & lower & (distance >= lo) & (distance <= hi)
    counts = np.bincount(np.round(distance[inside]).astype(np.int64), minlength=int(hi) + 2)
    smooth = np.convolve(counts, np.ones(3), mode="same")[int(lo) : int(hi) + 1]
    return float(int(lo) + int(np.flatnonzero(smooth >= 0.5 * smooth.max())[0]))


def _labelled_head(femur: np.ndarray, centre: np.ndarray, radius: float, spacing: np.ndarray) -> bool:
    """Did the network call the sphere's inside femur (a head, not a ring of edges elsewhere)?"""
    inner = np.sqrt(sum(o**2 for o in _offsets(centre, femur.shape, spacing))) < 0.8 * radius
    return bool(inner.any()) and float(np.count_nonzero(femur & inner)) >= MIN_HEAD_FILL * np.count_nonzero(inner)


def _offsets(centre: np.ndarray, shape: tuple[int, ...], spacing: np.ndarray) -> list[np.ndarray]:
    """Per axis, each voxel's offset (mm) from ``centre`` (mm), as open grids that broadcast to ``shape``."""
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    return [g * s - c for g, s, c in zip(grids, spacing, centre)]


def _acetabular_side(
    femur: np.ndarray, head: Sphere, spacing_zyx: tuple[float, float, float], axis: int, sign: float
) -> np.ndarray:
    """Femur voxels that are not femur: outside the head away from the neck, and what only they joined to
    the rest of the femur (``femur``: this femur's labels in the head's box)."""
    spacing = np.asarray(spacing_zyx, dtype=float)
    centre = head.centre_index * spacing
    offset = _offsets(centre, femur.shape, spacing)
    distance = np.sqrt(sum(o**2 for o in offset))
    superior = offset[axis] * sign
    neck = _neck_direction(femur, offset, distance, superior, head.radius_mm)
    if neck is None:
        return np.zeros_like(femur)
    toward_neck = sum(o * n for o, n in zip(offset, neck))
    outside = (
        femur
        & (distance > head.radius_mm + HEAD_MARGIN_MM)
        & (toward_neck < np.cos(np.radians(NECK_CONE_DEG)) * distance)
    )
    kept = femur & ~outside
    parts, count = ndimage.label(kept, structure=np.ones((3, 3, 3), dtype=bool))
    if count > 1:
        lowest = parts[_lowest_slice(femur.shape, axis, sign)]
        shaft = np.unique(lowest[lowest > 0])
        kept &= np.isin(parts, shaft)
    return femur & ~kept


def _neck_direction(
    femur: np.ndarray, offset: list[np.ndarray], distance: np.ndarray, superior: np.ndarray, radius: float
) -> np.ndarray | None:
    """Unit vector (array axes) from the head's centre toward the femur below it (neck and trochanters)."""
    below = femur & (distance > radius + 5.0) & (distance < radius + 45.0) & (superior < 0)
    if not below.any():
        return None
    mean = np.array([float(np.mean(np.broadcast_to(o, femur.shape)[below])) for o in offset])
    norm = float(np.linalg.norm(mean))
    return mean / norm if norm > 0 else None


def _lowest_slice(shape: tuple[int, ...], axis: int, sign: float) -> tuple[slice | int, ...]:
    """Index of the box's most inferior slice (where the femur's shaft enters it)."""
    index: list[slice | int] = [slice(None)] * len(shape)
    index[axis] = 0 if sign > 0 else shape[axis] - 1
    return tuple(index)
