"""The viewer shows every volume radiologically, derived from its direction matrix."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.state.display_geometry import AXIAL, CORONAL, SAGITTAL, DisplayGeometry


def _lps_volume() -> Volume:
    rng = np.random.default_rng(0)
    return Volume(rng.integers(-1000, 2000, (5, 6, 7)).astype(np.int16), (2.0, 0.5, 0.8), (10.0, -20.0, 30.0))


def _same_anatomy_other_storage(volume: Volume, perm: tuple[int, int, int], flips: tuple[bool, bool, bool]) -> Volume:
    """The same voxels in patient space, stored with permuted / reversed array axes."""
    array = np.transpose(volume.array, perm)
    slicer = tuple(slice(None, None, -1) if f else slice(None) for f in flips)
    array = array[slicer]
    # array axis a of the new volume is old axis perm[a], possibly reversed
    spacing = tuple(volume.spacing_zyx[p] for p in perm)
    old_itk = [2 - p for p in perm]  # ITK axis of each new array axis
    direction = np.zeros((3, 3))
    for a in range(3):
        column = volume.direction[:, old_itk[a]] * (-1 if flips[a] else 1)
        direction[:, 2 - a] = column
    corner = [0, 0, 0]
    for a in range(3):
        corner[perm[a]] = volume.shape[perm[a]] - 1 if flips[a] else 0
    origin = volume.index_to_lps(np.array(corner, dtype=float))
    return Volume(np.ascontiguousarray(array), spacing, tuple(origin), direction)


def test_a_standard_axial_lps_ct_is_shown_without_reordering() -> None:
    geometry = DisplayGeometry.from_volume(_lps_volume())
    assert geometry.perm == (0, 1, 2) and geometry.flip == (False, False, False)
    assert geometry.spacing == (2.0, 0.5, 0.8)
    assert geometry.obliquity_deg == pytest.approx(0.0)


@pytest.mark.parametrize("perm", list(itertools.permutations(range(3))))
@pytest.mark.parametrize(
    "flips", [(False, False, False), (True, True, False), (False, True, True), (True, False, True)]
)
def test_any_storage_order_of_the_same_anatomy_gives_the_same_display(perm, flips) -> None:
    reference = _lps_volume()
    stored = _same_anatomy_other_storage(reference, perm, flips)
    for new in itertools.product(*(range(n) for n in stored.shape)):  # same voxel, same place
        old = [0, 0, 0]
        for a in range(3):
            old[perm[a]] = reference.shape[perm[a]] - 1 - new[a] if flips[a] else new[a]
        assert stored.array[new] == reference.array[tuple(old)]
        assert np.allclose(stored.index_to_lps(np.array(new, float)), reference.index_to_lps(np.array(old, float)))
    shown = DisplayGeometry.from_volume(stored)
    expected = DisplayGeometry.from_volume(reference).view(reference.array)
    assert np.array_equal(shown.view(stored.array), expected)
    assert shown.spacing == pytest.approx((2.0, 0.5, 0.8))


def test_display_axes_run_towards_superior_posterior_and_left() -> None:
    volume = _same_anatomy_other_storage(_lps_volume(), (2, 0, 1), (True, False, True))
    geometry = DisplayGeometry.from_volume(volume)
    start = np.array([1, 1, 1])
    base = volume.index_to_lps(np.array(geometry.to_array_index(tuple(start)), dtype=float))
    for display_axis, lps_component in ((0, 2), (1, 1), (2, 0)):  # S is LPS z, P is y, L is x
        step = start.copy()
        step[display_axis] += 1
        moved = volume.index_to_lps(np.array(geometry.to_array_index(tuple(step)), dtype=float))
        assert moved[lps_component] - base[lps_component] > 0


def test_array_and_display_indices_convert_both_ways() -> None:
    volume = _same_anatomy_other_storage(_lps_volume(), (1, 2, 0), (False, True, True))
    geometry = DisplayGeometry.from_volume(volume)
    for index in itertools.product(*(range(n) for n in volume.shape)):
        assert geometry.to_array_index(geometry.to_display_index(index)) == index
        assert geometry.view(volume.array)[geometry.to_display_index(index)] == volume.array[index]


def test_views_follow_the_radiological_convention() -> None:
    assert AXIAL.edge_letters() == {"left": "R", "right": "L", "top": "A", "bottom": "P"}
    assert CORONAL.edge_letters() == {"left": "R", "right": "L", "top": "S", "bottom": "I"}
    assert SAGITTAL.edge_letters() == {"left": "A", "right": "P", "top": "S", "bottom": "I"}


def test_planes_have_their_physical_size_for_anisotropic_voxels() -> None:
    geometry = DisplayGeometry.from_volume(_lps_volume())  # 5 x 6 x 7 voxels of 2 x 0.5 x 0.8 mm
    assert geometry.plane_size_mm(AXIAL) == pytest.approx((7 * 0.8, 6 * 0.5))
    assert geometry.plane_size_mm(CORONAL) == pytest.approx((7 * 0.8, 5 * 2.0))
    assert geometry.plane_size_mm(SAGITTAL) == pytest.approx((6 * 0.5, 5 * 2.0))


def test_a_point_in_a_view_maps_to_the_voxel_under_it_and_back() -> None:
    geometry = DisplayGeometry.from_volume(_lps_volume())
    index = (3, 4, 5)
    x, y = geometry.display_to_scene(CORONAL, index)
    assert geometry.scene_to_display(CORONAL, index[1], x, y) == index
    assert geometry.scene_to_display(CORONAL, 0, -5.0, 1e6) == (4, 0, 0)  # clamped inside
    assert not geometry.contains(geometry.scene_to_display(CORONAL, 0, -5.0, 1.0, clamp=False))


def test_an_oblique_volume_reports_how_far_it_is_from_the_patient_axes() -> None:
    angle = np.radians(12.0)
    rotation = np.array([[1, 0, 0], [0, np.cos(angle), -np.sin(angle)], [0, np.sin(angle), np.cos(angle)]])
    volume = Volume(np.zeros((4, 4, 4), np.int16), (1, 1, 1), direction=rotation)
    assert DisplayGeometry.from_volume(volume).obliquity_deg == pytest.approx(12.0, abs=1e-6)
