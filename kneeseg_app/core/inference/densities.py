"""CT numbers the anatomy rules share: where metal begins and where the reconstructed view ends."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy import ndimage

METAL_HU = 2800.0
"""Voxels this dense are metal (implants, at or near the scanner's 3071 HU ceiling), never bone: no voxel
of true bone reaches 2500 HU in the 75 metal-free knees of the stress suite nor the 24 of the independent
phantoms (99.99th percentile 2328 and 2204 HU), as real cortical bone stays below about 2000 HU."""
AIR_HU = -500.0
"""Air or padding: what a bone cut by the field of view meets (a bone inside a patient never touches air)."""
TWO_PIXELS = np.array([[abs(i) + abs(j) <= 2 for j in range(-2, 3)] for i in range(-2, 3)])
"""Bone within two pixels of the view's edge touches it (the blurred cortex at the cut)."""


def view_edge(hu: np.ndarray, reaches_border: Mapping[int, tuple[bool, bool]], structure: np.ndarray) -> np.ndarray:
    """Where the reconstructed view ends in ``hu`` (a box of the image): air or padding grown by
    ``structure``, and the box's first/last row along each axis of ``reaches_border`` whose flags say the
    box reaches the image's own border there (low side, high side)."""
    edge = ndimage.binary_dilation(hu < AIR_HU, structure=structure)
    for axis, (low, high) in reaches_border.items():
        index: list[slice | int] = [slice(None)] * hu.ndim
        if low:
            index[axis] = 0
            edge[tuple(index)] = True
        if high:
            index[axis] = -1
            edge[tuple(index)] = True
    return edge
