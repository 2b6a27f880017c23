"""The talus off the tibia: where a long scan reaches the ankle, the tibia ends at its plafond.

A 2D network sees the talar dome under the plafond as more tibia (a hip-to-ankle phantom on 3 mm
slices: 12 mm of talus labelled tibia, tibia HD95 6.5 mm, the plan's ankle centre 19 mm too
low). Below the plafond the true tibia is only the medial malleolus, a finger of bone beside
the talus, so the bone labelled tibia narrows sharply at the joint and widens again over the
talus. Where the tibia's lowest :data:`ANKLE_REGION_MM` show that dip:

* below the dip, every slice loses the broad part of its tibia label (what survives an opening
  by a disk :data:`TALUS_WIDTH_MM` across, at most half the plafond's width, and its blurred edge):
  the talus; the malleolus, too narrow to hold the disk, stays;
* what is then no longer joined to the tibia above the dip goes too;
* when foot bones labelled tibia put the lowest slice far under the talus, the first pass takes them
  and the next one, from the new lowest slice, the talus (:data:`MAX_PASSES`).

Nothing is changed unless the tibia is long enough to reach the ankle, its lowest slice lies
inside the scan, and the dip is deep (the true tibia's malleolus narrows without widening again).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from kneeseg_app.core.inference.bone_ends import Box, end_box, labelled_length_mm, length_mm, trim_each_piece
from kneeseg_app.core.inference.knee_joint import superior_axis
from kneeseg_app.core.volume import Volume

MIN_TIBIA_MM = 250.0
"""A tibia shorter than this in the scan does not reach its plafond (an adult tibia is 330-420 mm)."""
ANKLE_REGION_MM = 45.0
"""The tibia's lowest part searched for the joint: malleolus and talus below the plafond."""
TALUS_WIDTH_MM = 16.0
"""Wider than a medial malleolus (12-15 mm across), narrower than a talus (25-35 mm)."""
TALUS_SHARE = 0.5
"""The talus is about as wide as the plafond it sits in, a malleolus less than half: the disk is at most
this share of the plafond's width (a small tibia's talus may be narrower than :data:`TALUS_WIDTH_MM`)."""
MAX_PASSES = 3
"""Foot bones labelled tibia below the talus move the tibia's lowest slice down, and the ankle's narrowing
out of the searched region: the trim is repeated from the new lowest slice while it removes something."""
EDGE_MM = 1.5
"""The talus's blurred edge, taken with it."""
DIP_DEPTH = 0.65
"""The joint: a slice with less bone labelled than this share of the smaller of the widest slices below and
above (hip-to-ankle phantoms on 3-4 mm slices: 0.34-0.61, the joint slice holding part talus and part
plafond; a tibia without a talus only widens upward from its malleolus)."""


def trim_talus(labels: np.ndarray, ct: Volume, tibia: int) -> int:
    """Remove, in place, a talus labelled as tibia under each tibia that reaches its plafond in the scan;
    returns the voxels removed."""
    axis, sign = superior_axis(ct.direction)
    if labelled_length_mm(labels, tibia, ct.spacing_zyx, axis) < MIN_TIBIA_MM:
        return 0  # no tibia piece can reach its plafond (every knee scan)

    def ankle_region(found: Box) -> Box | None:
        """The tibia's lowest part, unless the tibia is too short to reach its plafond or the scan cuts it."""
        if length_mm(found, ct.spacing_zyx, axis) < MIN_TIBIA_MM:
            return None
        cut = found[axis].start <= 0 if sign > 0 else found[axis].stop >= ct.shape[axis]
        return None if cut else end_box(found, ct.shape, ct.spacing_zyx, axis, sign < 0, ANKLE_REGION_MM)

    removed = 0
    for _ in range(MAX_PASSES):
        found = trim_each_piece(
            labels, ct, tibia, ankle_region, lambda mine, _: talus_voxels(mine, ct.spacing_zyx, axis, sign)
        )
        removed += found
        if not found:
            break
    return removed


def talus_voxels(tibia: np.ndarray, spacing_zyx: tuple[float, float, float], axis: int, sign: float) -> np.ndarray:
    """The talus in ``tibia`` (a tibia's labels over its lowest part): nothing when no joint shows."""
    up = np.moveaxis(tibia, axis, 0)
    up = up if sign > 0 else up[::-1]
    area = np.count_nonzero(up, axis=(1, 2))
    joint = joint_slice(area)
    talus = np.zeros_like(up)
    if joint is None:
        return np.moveaxis(talus if sign > 0 else talus[::-1], 0, axis)
    pixel = [s for a, s in enumerate(spacing_zyx) if a != axis]
    plafond_mm2 = float(area[joint:].max()) * pixel[0] * pixel[1]
    width = min(TALUS_WIDTH_MM, TALUS_SHARE * 2.0 * np.sqrt(plafond_mm2 / np.pi))
    disk = _disk(width / 2.0, pixel)
    edge = _disk(EDGE_MM, pixel)
    for k in range(joint):
        broad = ndimage.binary_opening(up[k], structure=disk)
        if broad.any():
            talus[k] = up[k] & ndimage.binary_dilation(broad, structure=edge)
    kept = up & ~talus
    parts, count = ndimage.label(kept, structure=np.ones((3, 3, 3), dtype=bool))
    if count:
        tibia_ids = np.unique(parts[joint:][parts[joint:] > 0])
        talus |= kept & ~np.isin(parts, tibia_ids)
    return np.moveaxis(talus if sign > 0 else talus[::-1], 0, axis)


def joint_slice(area: np.ndarray) -> int | None:
    """Index (from the bottom) of the deepest narrowing between wider bone below and above, if it is
    deeper than :data:`DIP_DEPTH`; None otherwise (a malleolus alone only widens upward)."""
    best, depth = None, 0.0
    for k in range(1, len(area) - 1):
        rim = min(float(area[:k].max()), float(area[k + 1 :].max()))
        if rim > 0 and area[k] < DIP_DEPTH * rim and rim - area[k] > depth:
            best, depth = k, rim - float(area[k])
    return best


def _disk(radius_mm: float, pixel_mm: list[float]) -> np.ndarray:
    """A 2D disk of ``radius_mm`` on pixels of ``pixel_mm`` (row, column)."""
    ry, rx = (max(1, int(round(radius_mm / p))) for p in pixel_mm)
    yy, xx = np.mgrid[-ry : ry + 1, -rx : rx + 1]
    return (yy * pixel_mm[0]) ** 2 + (xx * pixel_mm[1]) ** 2 <= radius_mm**2
