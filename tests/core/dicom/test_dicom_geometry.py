"""Slice-stack geometry from headers: sorting, shear (tilt), uneven steps and the regular grid chosen."""

from __future__ import annotations

import numpy as np
import pytest
from dicom_factory import AXIAL, CORONAL, SAGITTAL, tilted_axial

from kneeseg_app.core.dicom.geometry import (
    grid_geometry,
    layout_stack,
    plan_grid,
    plane_orientation_code,
    regular_step,
)
from kneeseg_app.core.dicom.headers import SliceHeader
from kneeseg_app.core.errors import GeometryError, MixedImageSizesError


def _headers(
    positions: list[tuple[float, float, float]], orientation: tuple[float, ...] = AXIAL, **fields: object
) -> list[SliceHeader]:
    common = dict(orientation=orientation, pixel_spacing=(0.5, 0.5), rows=16, columns=16)
    common.update(fields)
    return [SliceHeader(path=f"s{k}", position=p, instance_number=k + 1, **common) for k, p in enumerate(positions)]  # type: ignore[arg-type]


def test_slices_are_sorted_by_depth_along_the_normal_whatever_their_file_order() -> None:
    layout = layout_stack(_headers([(0, 0, 3.0), (0, 0, 1.0), (0, 0, 2.0)]))

    assert layout.order == (1, 2, 0)
    assert layout.depths == pytest.approx([0.0, 1.0, 2.0])
    assert not layout.is_sheared


def test_a_tilted_gantry_shows_as_shear_with_its_angle() -> None:
    layout = layout_stack(_headers([(0, 0, 2.0 * k) for k in range(5)], orientation=tilted_axial(18.5)))

    assert layout.is_sheared
    assert layout.tilt_deg == pytest.approx(18.5, abs=1e-6)
    assert layout.depths[1] == pytest.approx(2.0 * np.cos(np.radians(18.5)))


def test_the_regular_step_ignores_short_overlaps_and_keeps_the_common_step() -> None:
    assert regular_step(np.array([4.0] * 13 + [1.08] + [7.0] * 13)) == pytest.approx(4.0)
    assert regular_step(np.array([5.0, 5.0, 10.0])) == pytest.approx(5.0)
    assert regular_step(np.array([0.75, 0.75, 1.5])) == pytest.approx(0.75)


def test_a_regular_stack_needs_no_resampling() -> None:
    layout = layout_stack(_headers([(0, 0, 1.25 * k) for k in range(6)]))
    plan = plan_grid(layout)

    assert not plan.resample and plan.warnings == ()
    origin, spacing, direction = grid_geometry(layout, plan)
    assert spacing == pytest.approx((1.25, 0.5, 0.5)) and np.allclose(direction, np.eye(3))


def test_sheared_grid_grows_in_plane_to_hold_every_slice() -> None:
    layout = layout_stack(_headers([(0, 0, 2.0 * k) for k in range(5)], orientation=tilted_axial(30.0)))
    plan = plan_grid(layout)

    # 4 steps of 2 mm along z move the slice 4 mm along the tilted column axis: 8 pixels of 0.5 mm
    assert (plan.rows, plan.columns) == (16 + 8, 16)
    origin, _, _ = grid_geometry(layout, plan)
    assert np.allclose(origin, np.asarray(layout.origin) + layout.shifts[:, 1].min() * layout.axes[:, 1])


def test_tilt_tag_without_any_tilt_in_the_positions_is_reported() -> None:
    plan = plan_grid(layout_stack(_headers([(0, 0, float(k)) for k in range(4)])), gantry_tilt_tag_deg=12.0)

    assert not plan.resample
    assert "gantry tilt of 12.0° that the slice positions do not show" in plan.warnings[0]


def test_slices_of_different_orientation_or_missing_position_are_refused() -> None:
    mixed = _headers([(0, 0, 0.0), (0, 0, 1.0)])
    mixed[1] = SliceHeader(
        path="odd", position=(0, 0, 1.0), orientation=CORONAL, pixel_spacing=(0.5, 0.5), rows=16, columns=16
    )
    with pytest.raises(MixedImageSizesError, match="different orientations"):
        layout_stack(mixed)
    with pytest.raises(GeometryError, match="no ImagePositionPatient"):
        layout_stack([SliceHeader(path="x", orientation=AXIAL, pixel_spacing=(0.5, 0.5), rows=16, columns=16)])


@pytest.mark.parametrize(
    ("orientation", "code"),
    [
        (AXIAL, "axial"),
        (CORONAL, "coronal"),
        (SAGITTAL, "sagittal"),
        (tilted_axial(18.5), "axial"),
        (tilted_axial(40.0), "oblique axial"),
    ],
)
def test_plane_orientation_is_named_by_the_dominant_axis_of_the_normal(
    orientation: tuple[float, ...], code: str
) -> None:
    assert plane_orientation_code(orientation) == code
