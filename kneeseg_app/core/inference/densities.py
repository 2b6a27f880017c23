"""CT numbers the anatomy rules share: where bone ends and metal begins."""

from __future__ import annotations

METAL_HU = 2800.0
"""Voxels this dense are metal (implants, at or near the scanner's 3071 HU ceiling), never bone: no voxel
of true bone reaches 2500 HU in the 75 metal-free knees of the stress suite nor the 24 of the independent
phantoms (99.99th percentile 2328 and 2204 HU), as real cortical bone stays below about 2000 HU."""
