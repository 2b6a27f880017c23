"""The CT plane in 3D: the shown slice placed exactly in LPS, oblique volumes included."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.state.display_geometry import AXIAL, CORONAL, SAGITTAL, VIEWS, DisplayGeometry
from kneeseg_app.ui.state.plane3d import MAX_TEXTURE_PX, PLANE_ALPHA, plane_corners, plane_quad, sample_positions
from kneeseg_app.ui.state.window_level import WindowLevel

GREY = WindowLevel(width=255.0, level=127.5)  # value v is shown as grey v


def rotation(z_deg: float, x_deg: float) -> np.ndarray:
    a, b = np.radians(z_deg), np.radians(x_deg)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


def oblique_volume(direction: np.ndarray, shape=(14, 22, 30)) -> Volume:
    """Tilted, flipped axes allowed, anisotropic voxels."""
    return Volume(np.zeros(shape, np.int16), (2.5, 0.9, 0.7), origin_xyz=(-40.0, 25.0, 310.0), direction=direction)


DIRECTIONS = {
    "axial LPS": np.eye(3),
    "tilted 20/12 deg": rotation(20.0, 12.0),
    "feet first, prone, tilted": rotation(-15.0, 8.0) @ np.diag([-1.0, -1.0, 1.0]) @ np.diag([1.0, 1.0, -1.0]),
    "sagittal acquisition": rotation(5.0, 0.0) @ np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]),
}


@pytest.mark.parametrize("name", DIRECTIONS)
@pytest.mark.parametrize("view", VIEWS, ids=lambda v: v.name)
def test_the_corners_are_the_outer_edges_of_the_shown_slice_in_lps(name, view) -> None:
    volume = oblique_volume(DIRECTIONS[name])
    geometry = DisplayGeometry.from_volume(volume)
    display_slice = 3
    corners = plane_corners(volume, geometry, view, display_slice)
    # independently: the array axis this view slices, at the array index of display slice 3
    axis = geometry.perm[view.slice_axis]
    n = volume.shape[axis]
    index = n - 1 - display_slice if geometry.flip[view.slice_axis] else display_slice
    others = [a for a in range(3) if a != axis]
    expected = []
    for ends in itertools.product(*[(-0.5, volume.shape[a] - 0.5) for a in others]):
        zyx = np.zeros(3)
        zyx[axis] = index
        zyx[others] = ends
        expected.append(volume.index_to_lps(zyx))
    key = lambda p: tuple(np.round(p, 6))  # noqa: E731
    np.testing.assert_allclose(sorted(map(key, corners)), sorted(map(key, expected)), atol=1e-6)
    # a proper quad: consecutive corners are neighbours (its diagonals cross at the centre)
    np.testing.assert_allclose(corners[0] + corners[2], corners[1] + corners[3], atol=1e-6)


@pytest.mark.parametrize("name", DIRECTIONS)
def test_each_texel_lies_on_the_voxel_whose_value_it_shows(name) -> None:
    volume = oblique_volume(DIRECTIONS[name])
    rng = np.random.default_rng(3)
    bright = [tuple(int(rng.integers(0, n)) for n in volume.shape) for _ in range(6)]
    for zyx in bright:
        volume.array[zyx] = 255
    geometry = DisplayGeometry.from_volume(volume)
    shown = geometry.view(volume.array)
    for view in VIEWS:
        for zyx in bright:
            display = geometry.to_display_index(zyx)
            k = display[view.slice_axis]
            quad = plane_quad(volume, geometry, view, k, geometry.slice_image(shown, view, k), GREY)
            for i, j in zip(*np.nonzero(quad.texture[..., 0] == 255), strict=True):
                centre = quad.texel_centre(i, j)
                voxel = np.round(volume.lps_to_index(centre)).astype(int)
                assert volume.array[tuple(voxel)] == 255
                np.testing.assert_allclose(volume.index_to_lps(voxel), centre, atol=1e-6)
            assert (quad.texture[..., 3] == np.where(quad.texture[..., 0] > 0, PLANE_ALPHA, 0)).all()  # air is clear


def test_a_large_slice_is_sampled_to_at_most_512_texels_and_still_spans_the_whole_slice() -> None:
    volume = Volume(np.zeros((3, 700, 600), np.int16), (1.0, 0.5, 0.5), direction=rotation(30.0, 10.0))
    geometry = DisplayGeometry.from_volume(volume)
    image = geometry.slice_image(geometry.view(volume.array), AXIAL, 1)
    quad = plane_quad(volume, geometry, AXIAL, 1, image, GREY)
    assert max(quad.texture.shape[:2]) <= MAX_TEXTURE_PX
    np.testing.assert_allclose(quad.corners(), plane_corners(volume, geometry, AXIAL, 1), atol=1e-6)


def test_samples_are_the_pixels_under_the_texel_centres() -> None:
    assert sample_positions(5).tolist() == [0, 1, 2, 3, 4]
    picked = sample_positions(1024, 512)
    assert len(picked) == 512 and picked[0] == 1 and picked[-1] == 1023


def test_the_texture_uses_the_viewers_window() -> None:
    volume = Volume(np.array([[[-1000, 0, 500, 3000]]], np.int16).repeat(2, axis=1), (1.0, 1.0, 1.0))
    geometry = DisplayGeometry.from_volume(volume)
    image = geometry.slice_image(geometry.view(volume.array), CORONAL, 0)
    quad = plane_quad(volume, geometry, CORONAL, 0, image, WindowLevel(width=1000.0, level=500.0))
    assert quad.texture[:, 0, 0].tolist() == [0, 0, 127, 255]  # window 0..1000 HU: 500 is half-way


def test_the_gl_matrix_maps_the_texture_plane_to_the_corners_shifted_by_the_offset() -> None:
    volume = oblique_volume(DIRECTIONS["tilted 20/12 deg"])
    geometry = DisplayGeometry.from_volume(volume)
    image = geometry.slice_image(geometry.view(volume.array), SAGITTAL, 4)
    quad = plane_quad(volume, geometry, SAGITTAL, 4, image, GREY)
    offset = np.array([1.0, 2.0, 300.0])
    nx, ny = quad.texture.shape[:2]
    plane = np.array([[0, 0, 0, 1], [nx, 0, 0, 1], [nx, ny, 0, 1], [0, ny, 0, 1]], float)
    world = (quad.matrix(offset) @ plane.T).T[:, :3]
    np.testing.assert_allclose(world + offset, quad.corners(), atol=1e-9)
