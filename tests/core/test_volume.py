"""Volume geometry follows SimpleITK/LPS conventions exactly."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

from kneeseg_app.core.volume import Volume, orientation_code


def _oblique_volume() -> Volume:
    angle = np.deg2rad(20)
    direction = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    array = np.arange(4 * 5 * 6, dtype=np.int16).reshape(4, 5, 6)
    return Volume(array, spacing_zyx=(2.5, 0.7, 0.8), origin_xyz=(-10.0, 20.0, 30.0), direction=direction)


def test_voxel_positions_match_simpleitk() -> None:
    volume = _oblique_volume()
    image = volume.to_sitk()
    for k, j, i in [(0, 0, 0), (3, 4, 5), (1, 2, 3)]:
        expected = image.TransformIndexToPhysicalPoint((i, j, k))
        assert np.allclose(volume.index_to_lps([k, j, i]), expected)


def test_lps_to_index_inverts_index_to_lps() -> None:
    volume = _oblique_volume()
    index = np.array([[1.5, 2.0, 3.25], [0, 0, 0]])
    assert np.allclose(volume.lps_to_index(volume.index_to_lps(index)), index)


def test_simpleitk_round_trip_keeps_array_and_geometry() -> None:
    volume = _oblique_volume()
    back = Volume.from_sitk(volume.to_sitk())
    assert np.array_equal(back.array, volume.array)
    assert back.spacing_zyx == pytest.approx(volume.spacing_zyx)
    assert back.origin_xyz == pytest.approx(volume.origin_xyz)
    assert np.allclose(back.direction, volume.direction)
    assert back.same_grid(volume)


def test_same_grid_detects_shifted_origin() -> None:
    volume = _oblique_volume()
    moved = Volume(volume.array, volume.spacing_zyx, (-10.0, 20.0, 31.0), volume.direction)
    assert not volume.same_grid(moved)


def test_with_array_keeps_geometry_and_refuses_other_shapes() -> None:
    volume = _oblique_volume()
    labels = volume.with_array(np.zeros(volume.shape, np.uint8))
    assert labels.same_grid(volume) and labels.array.dtype == np.uint8
    with pytest.raises(ValueError):
        volume.with_array(np.zeros((1, 2, 3), np.uint8))


def test_orientation_code_names_where_axes_point() -> None:
    assert orientation_code(np.eye(3)) == "LPS"
    assert orientation_code(np.diag([-1.0, -1.0, 1.0])) == "RAS"
    image = sitk.DICOMOrient(sitk.Image(4, 4, 4, sitk.sitkUInt8), "RAI")
    assert orientation_code(np.array(image.GetDirection()).reshape(3, 3)) == "RAI"


@pytest.mark.parametrize("degrees", [45.0, -45.0, 44.0, 46.0, 135.0])
def test_an_oblique_volume_gets_a_code_that_names_each_patient_axis_once(tmp_path, degrees: float) -> None:
    """A NIfTI rotated 45 degrees about z: each ITK axis is as close to two patient axes (once 'RLS')."""
    image = sitk.Image(4, 4, 4, sitk.sitkInt16)
    angle = np.radians(degrees)
    image.SetDirection((np.cos(angle), -np.sin(angle), 0.0, np.sin(angle), np.cos(angle), 0.0, 0.0, 0.0, 1.0))
    sitk.WriteImage(image, str(tmp_path / "oblique.nii.gz"))
    direction = np.array(sitk.ReadImage(str(tmp_path / "oblique.nii.gz")).GetDirection()).reshape(3, 3)

    code = orientation_code(direction)

    assert sorted(code.replace("R", "L").replace("A", "P").replace("I", "S")) == ["L", "P", "S"]
    assert code[2] == "S"


def test_describe_mentions_size_spacing_and_warnings() -> None:
    volume = _oblique_volume()
    volume.warnings.append("slices were resampled")
    text = volume.describe()
    assert "6 x 5 x 4" in text and "0.800 x 0.700 x 2.500" in text and "slices were resampled" in text
