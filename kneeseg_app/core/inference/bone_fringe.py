"""Bands of dense bone at a bone's edge that the network left out of one slice.

A surface cut obliquely by thick slices shows, in the slice that grazes it, as a band of dense bone
beside the bone's label: on a flexed knee's tibial plateau a sclerotic band 5-15 mm wide (independent
seed 9 case 11, 38 deg flexion on 3 mm slices: 1,600 pixels of one slice, tibia Dice 0.945), on a
condyle the same. A 2D network that learnt a plateau as cortex over marrow does not call it bone; its
neighbours one slice away do. Such a band is a piece of dense unlabelled pixels (opened, so that a blurred
rim or a streak is not one) that touches the bone's label in its own slice, lies on that bone's label one
slice above or below, and touches no other label. A piece that lies under the other bone within a few
millimetres toward it is where that bone's end blurs (deep-flexion dev case 98001: a femoral condyle's
last slab beside the tibia), not this bone's, and is left alone.

Each slice is judged against the labels as the rest of the anatomy rule left them, never against a piece
just added: the step restores one slice's band, it cannot walk from bone to bone through dense tissue.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kneeseg_app.core.inference.cut_bone import METAL_MARGIN_MM, grown_box, near_metal_in_box, opening_of
from kneeseg_app.core.inference.knee_joint import superior_axis
from kneeseg_app.core.volume import Volume

FRINGE_HU = 400.0
"""Cortex and sclerotic bone; marrow and a slab's blurred partial volume of it stay below."""
OPENING_MM = 2.0
"""Dense strands thinner than this (a cortex's blurred rim, a streak) are not a band of bone."""
ON_BONE_SHARE = 0.5
"""A band lies on its bone's label one slice above or below with at least this share of its pixels."""
HIDDEN_GAP_MM = 8.0
"""How far toward the other bone (the femur lies above the tibia) a band is looked for under it..."""
UNDER_OTHER_SHARE = 0.5
"""...and with what share of its pixels under the other bone's label it belongs to that bone's end."""
NEIGHBOURHOOD_MM = 20.0
"""Bands are looked for this far around the labels of their slice and its two neighbours; a dense piece
reaching farther (a table, the other leg's bone) is not a band."""
_PLANE = np.ones((3, 3), dtype=bool)


def fill_bone_fringes(labels: np.ndarray, ct: Volume, femur: int, tibia: int) -> dict[int, int]:
    """Give each bone, in place, the dense bands beside its label that its neighbouring slices cover;
    returns the voxels added per bone."""
    axis, sign = superior_axis(ct.direction)
    view = np.moveaxis(labels, axis, 0)[:: -int(sign)]  # superior first, writable
    hu = np.moveaxis(np.asarray(ct.array), axis, 0)[:: -int(sign)]
    pixel_mm = float(np.sqrt(np.prod([ct.spacing_zyx[a] for a in range(3) if a != axis])))
    gap = max(1, int(np.floor(HIDDEN_GAP_MM / ct.spacing_zyx[axis] + 1e-6)))
    before = view.copy()
    added = {femur: 0, tibia: 0}
    slices = np.flatnonzero(before.any(axis=(1, 2)))
    for z in slices[(slices > 0) & (slices < view.shape[0] - 1)]:
        bands = _Bands.of_slice(before, hu[z], int(z), pixel_mm)
        if bands is None:
            continue
        rows, cols = bands.box
        for bone, other in ((femur, tibia), (tibia, femur)):
            toward_other = before[z + 1 : z + 1 + gap] if bone == femur else before[max(z - gap, 0) : z]
            neighbours = (before[z - 1][rows, cols], before[z + 1][rows, cols])
            taken = _taken(bands.pieces, before[z][rows, cols], neighbours, toward_other[:, rows, cols], bone, other)
            if taken.any():
                plane = view[z][rows, cols]
                band = bands.whole(taken) & (plane == 0)
                plane[band] = bone
                added[bone] += int(np.count_nonzero(band))
    return added


@dataclass(frozen=True)
class _Bands:
    """The candidate bands of one slice, within ``box`` (the pieces' box grown by the radius and a pixel):
    ``pieces`` (ids of the opened dense unlabelled pixels; none reaching the edge of the bones'
    neighbourhood, :data:`NEIGHBOURHOOD_MM`), ``dense`` (those pixels before the opening) and the
    opening's ``radius`` in pixels."""

    pieces: np.ndarray
    dense: np.ndarray
    box: tuple[slice, slice]
    radius: int

    @classmethod
    def of_slice(cls, before: np.ndarray, hu: np.ndarray, z: int, pixel_mm: float) -> _Bands | None:
        """Slice ``z``'s bands, in the box of the labels of it and its two neighbours; None when it has none."""
        near = before[z - 1 : z + 2].any(axis=0)
        reach = int(np.ceil(NEIGHBOURHOOD_MM / pixel_mm))
        box = grown_box(near, reach)
        dense = (before[z][box] == 0) & (hu[box] >= FRINGE_HU)  # metal goes below, with its streaks
        if not dense.any():
            return None
        dense &= ~near_metal_in_box(hu, box, int(np.ceil(METAL_MARGIN_MM / pixel_mm)))
        radius = max(1, int(round(OPENING_MM / pixel_mm)))
        if not _holds_a_square(dense, int(radius / np.sqrt(2))):
            return None  # the usual slice: no disc of the opening's size fits, so it keeps no piece
        pieces, count = ndimage.label(opening_of(dense, _disk(radius)), structure=_PLANE)
        if not count:
            return None
        edge = np.unique(np.concatenate([pieces[0], pieces[-1], pieces[:, 0], pieces[:, -1]]))
        pieces[np.isin(pieces, edge[edge > 0])] = 0
        if not pieces.any():
            return None
        # Judged and filled around the pieces only: their thin ends lie within the radius, a label beside
        # them within a pixel (the box's whole width is 5-10x larger at 0.3-0.4 mm pixels).
        around = grown_box(pieces > 0, radius + 1)
        inner = (
            slice(box[0].start + around[0].start, box[0].start + around[0].stop),
            slice(box[1].start + around[1].start, box[1].start + around[1].stop),
        )
        return cls(pieces[around], dense[around], inner, radius)

    def whole(self, taken: np.ndarray) -> np.ndarray:
        """The taken pieces with the thin ends the opening cut off them: dense pixels within its radius that
        belong to no other piece."""
        pieces = taken[self.pieces]
        ends = ndimage.binary_dilation(pieces, structure=_disk(self.radius)) & self.dense & (self.pieces == 0)
        return pieces | ends


def _taken(
    pieces: np.ndarray,
    plane: np.ndarray,
    neighbours: tuple[np.ndarray, np.ndarray],
    toward_other: np.ndarray,
    bone: int,
    other: int,
) -> np.ndarray:
    """Which pieces (a boolean per piece id, 0 false) are bands of ``bone``: beside it in ``plane``, on it
    in either of the ``neighbours`` slices, beside no ``other`` and not under ``other`` in any slice of
    ``toward_other``."""
    count = int(pieces.max())
    area = np.bincount(pieces.ravel(), minlength=count + 1)
    taken = np.zeros(count + 1, dtype=bool)
    taken[np.unique(pieces[ndimage.binary_dilation(plane == bone, structure=_PLANE)])] = True
    taken[np.unique(pieces[ndimage.binary_dilation(plane == other, structure=_PLANE)])] = False
    on_bone = np.bincount(pieces[(neighbours[0] == bone) | (neighbours[1] == bone)], minlength=count + 1)
    taken &= on_bone >= ON_BONE_SHARE * area
    for plane_toward in toward_other:
        under = np.bincount(pieces[plane_toward == other], minlength=count + 1)
        taken &= under < UNDER_OTHER_SHARE * area
    taken[0] = False
    return taken


def _holds_a_square(mask: np.ndarray, half: int) -> bool:
    """Whether a square of side 2 * ``half`` + 1 pixels fits in ``mask`` somewhere (the disc of the opening
    holds that square: a slice without one keeps no piece). A separable minimum filter, far cheaper than
    the opening it spares."""
    if half < 1:
        return bool(mask.any())
    return bool(ndimage.minimum_filter(mask.view(np.uint8), size=2 * half + 1).any())


def _disk(radius: int) -> np.ndarray:
    """A disc of ``radius`` pixels, the opening's structuring element."""
    rows, cols = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return rows**2 + cols**2 <= radius**2
