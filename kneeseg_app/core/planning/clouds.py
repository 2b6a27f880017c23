"""A bone of a label map as a point cloud (boundary and voxel centres, LPS mm) with the image's limits."""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.anatomy import BoneCloud, mask_points
from kneeseg_app.core.volume import Volume


def bone_cloud(labels: Volume, mask: np.ndarray, offset_zyx: np.ndarray) -> BoneCloud:
    """The boundary and voxel centres of one bone (LPS mm) with the scan's slice limits."""
    surface, inside = mask_points(mask, labels.index_to_lps, offset_zyx)
    planes = []
    corner = np.asarray(labels.origin_xyz, dtype=np.float64)
    for itk_axis, array_axis in ((2, 0), (1, 1), (0, 2)):
        normal = labels.direction[:, itk_axis] / np.linalg.norm(labels.direction[:, itk_axis])
        end = np.zeros(3)
        end[array_axis] = labels.shape[array_axis] - 1
        first, last = float(corner @ normal), float(labels.index_to_lps(end) @ normal)
        planes.append((normal, min(first, last), max(first, last), float(labels.spacing_zyx[array_axis])))
    (normal, lo, hi, _), sides = planes[0], tuple(planes[1:])
    return BoneCloud(surface, inside, normal, (lo, hi), float(max(labels.spacing_zyx)), sides)
