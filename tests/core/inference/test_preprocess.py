"""Each preprocessing step equals nnU-Net's own function (or SimpleITK's, for orientation)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from kneeseg_app.core.errors import GeometryError
from kneeseg_app.core.inference.preprocess import (
    body_box_2d,
    compute_new_shape,
    ct_normalize,
    nonzero_bbox,
    orientation_to,
    pad_to_min_shape,
    resample_to_shape,
    resize_like_skimage,
    resize_slices,
    separate_z_decision,
)
from kneeseg_app.core.volume import Volume


def _smooth_random(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    return (gaussian_filter(rng.normal(size=shape), 1.5) * 10).astype(np.float32)


# ----- orientation --------------------------------------------------------------
def _rotation(axis_perm: tuple[int, int, int], signs: tuple[int, int, int], tilt_deg: float = 0.0) -> np.ndarray:
    direction = np.zeros((3, 3))
    for col, (row, sign) in enumerate(zip(axis_perm, signs)):
        direction[row, col] = sign
    t = np.radians(tilt_deg)
    tilt = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    return tilt @ direction


@pytest.mark.parametrize(
    "perm,signs,tilt",
    [
        ((0, 1, 2), (1, 1, 1), 0.0),
        ((0, 1, 2), (-1, 1, -1), 0.0),
        ((0, 2, 1), (1, -1, 1), 0.0),  # coronal acquisition
        ((2, 0, 1), (1, 1, -1), 0.0),  # sagittal-ish, flipped
        ((1, 0, 2), (-1, -1, 1), 12.0),  # oblique by 12 degrees
    ],
)
@pytest.mark.parametrize("code", ["LPS", "RAS"])
def test_orientation_views_equal_simpleitk_dicomorient(perm, signs, tilt, code) -> None:
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    volume = Volume(array, (2.0, 0.5, 0.7), origin_xyz=(10, -20, 30), direction=_rotation(perm, signs, tilt))
    expected = sitk.DICOMOrient(volume.to_sitk(), code)
    orientation = orientation_to(volume.direction, code)
    oriented = orientation.apply(array)
    assert np.array_equal(oriented, sitk.GetArrayFromImage(expected))
    spacing_zyx = orientation.spacing(volume.spacing_zyx)
    assert np.allclose(spacing_zyx[::-1], expected.GetSpacing())


def test_orientation_round_trip_returns_the_source_array_exactly() -> None:
    array = np.random.default_rng(0).integers(0, 100, (4, 5, 6))
    orientation = orientation_to(_rotation((2, 0, 1), (-1, 1, -1)), "LPS")
    assert not orientation.is_identity
    assert np.array_equal(orientation.invert(orientation.apply(array)), array)


def test_orientation_writes_through_to_the_source_grid() -> None:
    labels = np.zeros((4, 5, 6), dtype=np.uint8)
    orientation = orientation_to(_rotation((1, 0, 2), (-1, 1, 1)), "LPS")
    orientation.apply(labels)[0, 0, 0] = 7
    assert labels.sum() == 7


def test_orientation_refuses_a_45_degree_oblique_and_a_bad_code() -> None:
    c = np.sqrt(0.5)
    oblique = np.array([[c, c, 0], [-c, c, 0], [0, 0, 1.0]])
    oblique[:, 1] = oblique[:, 0]  # both axes point the same way: not resolvable
    with pytest.raises(GeometryError):
        orientation_to(oblique, "LPS")
    with pytest.raises(GeometryError):
        orientation_to(np.eye(3), "LPX")


# ----- cropping -----------------------------------------------------------------
def test_nonzero_bbox_equals_nnunet_crop_to_nonzero() -> None:
    crop = pytest.importorskip("nnunetv2.preprocessing.cropping.cropping")
    data = np.zeros((30, 40, 50), dtype=np.float32)
    data[3:25, 7:33, 11:12] = -1000.0
    data[10, 5, 40] = 5.0
    data[12:14, 20:22, 20:22] = 0.0  # a hole: filled by nnU-Net, no effect on the box
    _, _, expected = crop.crop_to_nonzero(data[None])
    assert [list(b) for b in nonzero_bbox(data, slab=7)] == [list(map(int, b)) for b in expected]


def test_nonzero_bbox_keeps_the_full_extent_of_an_all_zero_image() -> None:
    assert nonzero_bbox(np.zeros((3, 4, 5))) == ((0, 3), (0, 4), (0, 5))


# ----- normalisation ------------------------------------------------------------
def test_ct_normalize_equals_nnunet_ct_normalization() -> None:
    schemes = pytest.importorskip("nnunetv2.preprocessing.normalization.default_normalization_schemes")
    hu = np.random.default_rng(1).normal(200, 800, (5, 20, 20)).astype(np.int16)
    props = {"mean": 312.5, "std": 480.25, "percentile_00_5": -996.0, "percentile_99_5": 1789.0}
    expected = schemes.CTNormalization(use_mask_for_norm=False, intensityproperties=props).run(hu.astype(np.float32))
    ours = ct_normalize(hu, -996.0, 1789.0, 312.5, 480.25)
    assert ours.dtype == np.float32
    assert np.array_equal(ours, expected)


# ----- resampling ---------------------------------------------------------------
def test_compute_new_shape_equals_nnunet() -> None:
    resampling = pytest.importorskip("nnunetv2.preprocessing.resampling.default_resampling")
    for shape, old, new in [
        ((100, 512, 512), (3.0, 0.7, 0.7), (3.0, 0.8, 0.8)),
        ((37, 99, 101), (1.3, 0.77, 0.41), (1, 1, 1)),
    ]:
        assert tuple(compute_new_shape(shape, old, new)) == tuple(resampling.compute_new_shape(shape, old, new))


@pytest.mark.parametrize(
    "current,new,force",
    [
        ((3.0, 0.7, 0.7), (3.0, 0.8, 0.8), None),
        ((1.0, 1.0, 1.0), (4.0, 1.0, 1.0), None),
        ((0.7, 0.7, 3.5), (1, 1, 1), None),
        ((1.0, 0.8, 0.8), (1.0, 0.9, 0.9), None),
        ((0.24, 1.25, 1.25), (1, 1, 1), True),
        ((2.0, 0.5, 0.5), (1, 1, 1), False),
    ],
)
def test_separate_z_decision_equals_nnunet(current, new, force) -> None:
    resampling = pytest.importorskip("nnunetv2.preprocessing.resampling.default_resampling")
    theirs = resampling.determine_do_sep_z_and_axis(force, current, new, 3)
    ours = separate_z_decision(current, new, force, 3)
    assert bool(ours[0]) == bool(theirs[0])
    assert ours[1] == (None if theirs[1] is None else int(theirs[1]))


@pytest.mark.parametrize(
    "shape,new_shape,current,new,order,order_z",
    [
        ((9, 31, 27), (9, 40, 22), (1.0, 0.8, 0.9), (1.0, 0.62, 1.1), 3, 0),  # 3D zoom, slice axis kept
        ((9, 31, 27), (14, 20, 30), (1.0, 0.8, 0.9), (0.64, 1.24, 0.81), 3, 0),  # 3D zoom, all axes
        ((7, 31, 27), (7, 40, 22), (4.0, 0.8, 0.9), (4.0, 0.62, 1.1), 3, 0),  # separate z, kept
        ((7, 31, 27), (17, 40, 22), (4.0, 0.8, 0.9), (1.65, 0.62, 1.1), 3, 0),  # separate z, z order 0
        ((7, 31, 27), (12, 24, 30), (4.0, 0.8, 0.9), (2.3, 1.0, 0.8), 1, 0),  # logits: order 1
        ((7, 31, 27), (12, 24, 30), (4.0, 0.8, 0.9), (2.3, 1.0, 0.8), 3, 1),  # separate z, z order 1
        ((20, 18, 9), (20, 22, 3), (0.7, 0.7, 3.5), (0.7, 0.58, 10.5), 3, 0),  # low-res last axis
    ],
)
def test_resample_to_shape_equals_nnunet(shape, new_shape, current, new, order, order_z) -> None:
    resampling = pytest.importorskip("nnunetv2.preprocessing.resampling.default_resampling")
    data = _smooth_random((2, *shape))
    expected = resampling.resample_data_or_seg_to_shape(
        data, new_shape, current, new, is_seg=False, order=order, order_z=order_z, force_separate_z=None
    )
    ours = resample_to_shape(data, new_shape, current, new, order=order, order_z=order_z)
    assert ours.dtype == expected.dtype == np.float32
    assert ours.shape == tuple(expected.shape)
    assert np.allclose(ours, expected, atol=1e-5, rtol=0)


def test_resize_like_skimage_equals_skimage_resize() -> None:
    transform = pytest.importorskip("skimage.transform")
    image = _smooth_random((30, 41)).astype(np.float64)
    for order in (0, 1, 3):
        expected = transform.resize(image, (47, 23), order, mode="edge", anti_aliasing=False)
        assert np.allclose(resize_like_skimage(image, (47, 23), order), expected, atol=1e-12)


@pytest.mark.parametrize("separate", [True, False])
def test_slice_by_slice_resize_equals_nnunet_whole_volume_resize(separate: bool) -> None:
    """The engine's slab path: per-slice zooms give nnU-Net's whole-volume result."""
    resampling = pytest.importorskip("nnunetv2.preprocessing.resampling.default_resampling")
    data = _smooth_random((1, 11, 40, 37))
    current = (4.0, 0.8, 0.8) if separate else (1.5, 0.8, 0.8)
    target = (current[0], 0.61, 0.97)
    new_shape = compute_new_shape(data.shape[1:], current, target)
    expected = resampling.resample_data_or_seg_to_shape(data, new_shape, current, target, False, 3, 0, None)[0]
    assert separate_z_decision(current, target)[0] is separate
    clip = None if separate else (float(data.min()), float(data.max()))
    slabs = [resize_slices(data[0, a:b], new_shape[1:], 3, clip=clip) for a, b in ((0, 4), (4, 9), (9, 11))]
    assert np.allclose(np.concatenate(slabs), expected, atol=1e-5, rtol=0)


# ----- padding ------------------------------------------------------------------
@pytest.mark.parametrize("shape,min_shape", [((3, 20, 31), (32, 32)), ((3, 40, 50), (32, 32)), ((5, 6, 7), (8, 8, 9))])
def test_pad_to_min_shape_equals_nnunet_pad_nd_image(shape, min_shape) -> None:
    """nnU-Net pads the torch tensor of the normalised image with zeros."""
    torch = pytest.importorskip("torch")
    padding = pytest.importorskip("acvl_utils.cropping_and_padding.padding")
    data = _smooth_random(shape)
    padded, expected_slicer = padding.pad_nd_image(
        torch.from_numpy(data), min_shape, "constant", {"value": 0}, True, None
    )
    expected = padded.numpy()
    ours, slicer = pad_to_min_shape(data, min_shape)
    assert np.array_equal(ours, expected)
    assert np.array_equal(ours[slicer], data)
    assert slicer == tuple(expected_slicer)


# ----- body box (speed option) -----------------------------------------------------
def test_body_box_ignores_the_table_and_covers_the_body() -> None:
    plane = np.full((100, 120), -1000.0, dtype=np.float32)
    plane[20:70, 30:90] = 40.0  # body
    plane[90:93, 5:115] = 200.0  # table, a smaller separate object
    assert body_box_2d(plane, -500.0, margin=2) == (18, 72, 28, 92)
    assert body_box_2d(np.full((10, 10), -1000.0), -500.0) is None
