"""The landmark rules' building blocks on shapes whose answers are known exactly."""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.anatomy import BoneCloud, BoneFrame, mask_points
from kneeseg_app.core.anatomy.rules import extreme_patch, fit_shaft, profile_peak


def test_mask_points_put_the_surface_half_way_between_inside_and_outside_voxels() -> None:
    mask = np.zeros((5, 6, 7), bool)
    mask[1:4, 2:4, 2:5] = True  # z 1..3, y 2..3, x 2..4

    surface, inside = mask_points(mask, lambda idx: idx[:, ::-1].copy())  # identity: (x, y, z)

    assert len(inside) == 3 * 2 * 3
    assert np.isclose(surface[:, 0].min(), 1.5) and np.isclose(surface[:, 0].max(), 4.5)
    assert np.isclose(surface[:, 2].min(), 0.5) and np.isclose(surface[:, 2].max(), 3.5)
    # faces: 2*(3*2 + 3*3 + 2*3) boundary faces, one point each
    assert len(surface) == 2 * (6 + 9 + 6)


def test_extreme_patch_is_the_tip_of_a_cap_and_moves_smoothly() -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(size=(20000, 3))
    pts /= np.linalg.norm(pts, axis=1, keepdims=True)
    pts *= 20.0  # a sphere of radius 20 around the origin
    tip = extreme_patch(pts, 2, 1.0, 0.5)
    assert abs(tip[0]) < 0.3 and abs(tip[1]) < 0.3 and 19.5 < tip[2] < 20.0
    moved = extreme_patch(pts + np.array([0.0, 0.0, 0.01]) * (pts[:, :1] > 0), 2, 1.0, 0.5)
    assert np.linalg.norm(moved - tip) < 0.05


def _cylinder_cloud(direction: np.ndarray, length: float = 200.0, radius: float = 12.0) -> BoneCloud:
    """A solid rod (2 mm slabs of dense points) along ``direction`` from the origin upwards."""
    d = direction / np.linalg.norm(direction)
    a = np.cross(d, [1.0, 0.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(d, a)
    t = np.arange(0.0, length, 0.5)
    g = np.arange(-radius, radius + 0.25, 0.5)
    tt, uu, vv = np.meshgrid(t, g, g, indexing="ij")
    keep = uu**2 + vv**2 <= radius**2
    inside = tt[keep, None] * d + uu[keep, None] * a + vv[keep, None] * b
    rim = (uu**2 + vv**2 <= radius**2) & (uu**2 + vv**2 > (radius - 0.6) ** 2)
    surface = tt[rim, None] * d + uu[rim, None] * a + vv[rim, None] * b
    top = float(inside[:, 2].max())  # the scan ends where the rod does (as it cuts a femur)
    return BoneCloud(surface, inside, np.array([0.0, 0.0, 1.0]), (-500.0, top), 1.0)


def test_fit_shaft_finds_a_tilted_rods_axis_from_a_rough_start() -> None:
    true = np.array([0.12, -0.08, 1.0])
    cloud = _cylinder_cloud(true)

    fit = fit_shaft(cloud, np.array([0.0, 0.0, 1.0]), proximal=True)

    angle = np.degrees(np.arccos(abs(fit.direction @ true) / np.linalg.norm(true)))
    assert fit.ok and angle < 0.1
    assert fit.span_mm > 100


def test_fit_shaft_says_too_short_when_the_scan_cuts_the_bone_early() -> None:
    cloud = _cylinder_cloud(np.array([0.0, 0.0, 1.0]), length=62.0)

    fit = fit_shaft(cloud, np.array([0.0, 0.0, 1.0]), proximal=True)

    assert not fit.ok


def test_bone_frame_points_posterior_to_the_patients_back_whatever_the_side() -> None:
    for lateral in ([1.0, 0.0, 0.0], [-1.0, 0.0, 0.0]):
        frame = BoneFrame.from_axes(np.zeros(3), np.array([0.0, 0.1, 1.0]), np.array(lateral))
        assert frame.posterior[1] > 0.9
        assert np.allclose(frame.rotation @ frame.rotation.T, np.eye(3), atol=1e-9)
        p = np.array([3.0, -2.0, 5.0])
        assert np.allclose(frame.world(frame.local(p)), p)


def test_profile_peak_finds_the_vertex_between_bins() -> None:
    ml = np.linspace(-15, 15, 121)
    depth = -((ml - 2.3) ** 2) / 10.0
    x, _ = profile_peak(ml, depth, -15, 15)
    assert abs(x - 2.3) < 0.2
