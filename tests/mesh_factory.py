"""Analytic label maps for the mesh tests: shapes known exactly, on oblique and anisotropic grids.

Accuracy is measured against the label map's boundary, defined as the 0.5 iso-surface of
the binary mask (linearly interpolated: through the mid-points between bone voxel centres
and their non-bone neighbours), both ways; targets: mean under 0.3 mm, maximum under the
largest voxel size, enclosed volume within 1% of (voxel count x voxel volume).
"""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.mesh import Mesh, surface_deviation
from kneeseg_app.core.volume import Volume


def rotation(z_deg: float, x_deg: float) -> np.ndarray:
    a, b = np.radians(z_deg), np.radians(x_deg)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


def grid(shape, spacing_zyx, direction=np.eye(3), origin=(0.0, 0.0, 0.0)) -> Volume:
    return Volume(np.zeros(shape, np.uint8), spacing_zyx, origin_xyz=origin, direction=direction)


def voxel_centres_lps(volume: Volume) -> np.ndarray:
    index = np.stack(np.meshgrid(*[np.arange(n) for n in volume.shape], indexing="ij"), axis=-1)
    return volume.index_to_lps(index)


ELLIPSOID_CENTRE = np.array([5.0, -12.0, 30.0])
ELLIPSOID_RADII = np.array([26.0, 18.0, 22.0])


def ellipsoid_labels(direction: np.ndarray, spacing_zyx=(1.4, 0.7, 0.6)) -> Volume:
    """An ellipsoid defined in patient (LPS) space, voxelised on a possibly oblique grid."""
    shape = (52, 104, 118)
    volume = grid(shape, spacing_zyx, direction)
    centre_index = (np.array(shape) - 1) / 2
    volume.origin_xyz = tuple(ELLIPSOID_CENTRE - (volume.index_to_lps(centre_index) - np.asarray(volume.origin_xyz)))
    q = (voxel_centres_lps(volume) - ELLIPSOID_CENTRE) / ELLIPSOID_RADII
    return volume.with_array(((q**2).sum(axis=-1) <= 1).astype(np.uint8))


def distance_to_true_ellipsoid(points: np.ndarray) -> np.ndarray:
    """First-order distance |g| / |grad g| to the analytic surface (accurate near it)."""
    q = (points - ELLIPSOID_CENTRE) / ELLIPSOID_RADII
    g = (q**2).sum(axis=1) - 1
    return np.abs(g) / np.linalg.norm(2 * q / ELLIPSOID_RADII, axis=1)


def assert_faithful(mesh: Mesh, labels: Volume, value: int) -> None:
    deviation = surface_deviation(mesh, labels, value)
    assert deviation.mean_mm < 0.3, deviation
    assert deviation.max_mm < max(labels.spacing_zyx), deviation
    assert abs(deviation.volume_error) < 0.01, deviation
