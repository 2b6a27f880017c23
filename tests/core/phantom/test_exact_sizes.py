"""The truth's sizes at the shape's exact surface, not at its 0.5 mm sampling."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.anatomy import BoneFrame, mask_points
from kneeseg_app.core.anatomy.extent import surface_extent
from kneeseg_app.core.phantom.exact_sizes import exact_sizes

CENTRE = np.array([3.13, -2.41, 7.77])
RADIUS = 11.37


def _sphere_field(lps: np.ndarray) -> np.ndarray:
    return np.linalg.norm(lps - CENTRE, axis=1) - RADIUS


def test_a_sampled_extent_is_moved_to_the_fields_zero_level() -> None:
    axes = [np.arange(c - 14.0, c + 14.0, 0.5) for c in CENTRE]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)  # (x, y, z) positions
    inside = np.transpose(_sphere_field(grid.reshape(-1, 3)).reshape(grid.shape[:3]) < 0, (2, 1, 0))
    lo = np.array([a[0] for a in axes])
    surface, _ = mask_points(inside, lambda idx: lo + idx[:, ::-1] * 0.5)
    frame = BoneFrame.from_axes(CENTRE, np.array([0.0, 0.3, 1.0]), np.array([1.0, 0.2, 0.0]))
    local = frame.local(surface)
    extents = {"ml": surface_extent(local, 0, frame), "ap": surface_extent(local, 1, frame)}

    sizes = exact_sizes(extents, _sphere_field)

    assert max(abs(e.length_mm - 2 * RADIUS) for e in extents.values()) > 0.1  # the 0.5 mm sampling
    for name in extents:
        assert sizes[name] == pytest.approx(2 * RADIUS, abs=0.02), name


def test_an_end_whose_lines_never_leave_the_shape_keeps_its_sampled_position() -> None:
    points = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    frame = BoneFrame.from_axes(np.zeros(3), np.array([0.0, 0.0, 1.0]), np.array([1.0, 0.0, 0.0]))
    extent = surface_extent(frame.local(points), 1, frame)

    sizes = exact_sizes({"ap": extent}, lambda lps: np.full(len(lps), -5.0))  # everywhere inside

    assert sizes["ap"] == pytest.approx(1.0)
