"""From a pixel of the 3D view to a ray in patient space, and back. Qt-free.

pyqtgraph draws each item with ``projection @ view @ item``; the view's items are
shifted by ``-offset`` (the bones' centre, so the camera orbits around them), hence
world = LPS - offset. A pixel's ray is the inverse of that chain, from the near to the
far clipping plane. Mouse positions are logical pixels; the GL viewport is in device
pixels (logical x device pixel ratio), so both are scaled by the same ratio before
the normalised device coordinates are formed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Camera:
    """What a click needs to know of the 3D view at the moment of the click."""

    view: np.ndarray
    """4x4 world -> eye (row-major: eye = view @ [x, y, z, 1])."""
    projection: np.ndarray
    """4x4 eye -> clip."""
    size: tuple[float, float]
    """The view's (width, height) in logical pixels."""
    device_pixel_ratio: float = 1.0
    offset: np.ndarray = field(default_factory=lambda: np.zeros(3))
    """LPS of the world origin (the items are drawn shifted by -offset)."""


def from_column_major(values: Sequence[float]) -> np.ndarray:
    """A 4x4 matrix from 16 values in OpenGL's order (QMatrix4x4.data())."""
    return np.asarray(values, dtype=np.float64).reshape(4, 4).T


def _ndc(camera: Camera, x: float, y: float) -> tuple[float, float]:
    ratio = camera.device_pixel_ratio
    width, height = camera.size[0] * ratio, camera.size[1] * ratio
    return 2.0 * (x * ratio) / width - 1.0, 1.0 - 2.0 * (y * ratio) / height


def pixel_ray(camera: Camera, x: float, y: float) -> tuple[np.ndarray, np.ndarray]:
    """(origin on the near plane, unit direction), in LPS mm, of the ray through logical pixel (x, y)."""
    nx, ny = _ndc(camera, x, y)
    inverse = np.linalg.inv(np.asarray(camera.projection) @ np.asarray(camera.view))
    ends = inverse @ np.array([[nx, ny, -1.0, 1.0], [nx, ny, 1.0, 1.0]]).T
    ends = (ends[:3] / ends[3]).T + np.asarray(camera.offset, dtype=np.float64)
    direction = ends[1] - ends[0]
    return ends[0], direction / np.linalg.norm(direction)


def project_to_pixels(camera: Camera, points_lps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Logical pixel (x, y) of each LPS point, and whether it lies in front of the camera."""
    points = np.atleast_2d(np.asarray(points_lps, dtype=np.float64)) - np.asarray(camera.offset, dtype=np.float64)
    clip = (np.asarray(camera.projection) @ np.asarray(camera.view) @ np.c_[points, np.ones(len(points))].T).T
    in_front = clip[:, 3] > 0
    w = np.where(in_front, clip[:, 3], 1.0)
    nx, ny = clip[:, 0] / w, clip[:, 1] / w
    pixels = np.c_[(nx + 1.0) / 2.0 * camera.size[0], (1.0 - ny) / 2.0 * camera.size[1]]
    return pixels, in_front


def nearest_within(pixels: np.ndarray, usable: np.ndarray, x: float, y: float, radius_px: float) -> int | None:
    """Index of the usable pixel position nearest to (x, y), if within ``radius_px``."""
    if len(pixels) == 0:
        return None
    distance = np.hypot(pixels[:, 0] - x, pixels[:, 1] - y)
    distance = np.where(usable, distance, np.inf)
    best = int(np.argmin(distance))
    return best if distance[best] <= radius_px else None
