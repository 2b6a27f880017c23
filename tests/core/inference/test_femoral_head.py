"""Where a scan reaches the hip, the femur ends at its head: the acetabulum and pelvis labelled femur go."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from kneeseg_app.core.inference.femoral_head import HEAD_MARGIN_MM, find_head, trim_acetabulum
from kneeseg_app.core.volume import Volume

SPACING = (3.0, 1.0, 1.0)  # 3 mm slices, as in the hip-to-ankle scan where the acetabulum was labelled
FEMUR = 1
CENTRE = np.array([270.0, 60.0, 45.0])  # head centre, mm (z up, y, x); medial is -x
RADIUS = 22.0


def _hip() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CT (HU), the true femur and what a network adds to it at the hip (acetabular cup, the joint space
    under it and an iliac plate) of a 300 mm long femur.

    Shaft (14 mm radius) up to a neck running 50 mm medially and up at 130 deg to the head (22 mm); a
    cup 4-11 mm beyond the head over its medial-superior half and an iliac plate above it. Bone is
    300 HU inside a 1,200 HU cortex; the CT is blurred as a 3 mm slice would be."""
    shape = (100, 120, 140)
    z, y, x = np.indices(shape, dtype=np.float32) * np.array(SPACING, dtype=np.float32)[:, None, None, None]
    dz, dy, dx = z - CENTRE[0], y - CENTRE[1], x - CENTRE[2]
    rho = np.sqrt(dz * dz + dy * dy + dx * dx)
    head = rho <= RADIUS
    neck_dir = np.array([-0.64, 0.0, 0.77])
    along = np.clip(dz * neck_dir[0] + dx * neck_dir[2], 0.0, 50.0)
    neck = np.sqrt((dz - along * neck_dir[0]) ** 2 + dy**2 + (dx - along * neck_dir[2]) ** 2) <= 15.0
    junction = CENTRE + 50.0 * neck_dir
    shaft = (np.sqrt((y - junction[1]) ** 2 + (x - junction[2]) ** 2) <= 14.0) & (z <= junction[0] + 15.0)
    femur = head | neck | shaft
    inward = np.array([0.8, 0.0, -0.6])  # up and medial, where the cup opens around the head
    facing = (dz * inward[0] + dx * inward[2]) / np.maximum(rho, 1e-3)
    cup = (rho >= RADIUS + 4.0) & (rho <= RADIUS + 11.0) & (facing > -0.2)
    ilium = (dz > 25.0) & (dz < 30.0 + RADIUS) & (np.abs(dx + 10.0) < 8.0) & (np.abs(dy) < 30.0)
    joint_space = (rho > RADIUS) & (rho < RADIUS + 4.0) & (facing > -0.2)
    pelvis = (cup | ilium) & ~femur
    bone = femur | pelvis
    hu = np.where(bone, 300.0, 40.0).astype(np.float32)
    cortex = bone & ~ndimage.binary_erosion(bone, structure=np.ones((1, 5, 5), dtype=bool))
    hu[cortex] = 1200.0
    hu = ndimage.gaussian_filter(hu, sigma=(0.6, 0.8, 0.8))
    return hu, femur, pelvis, joint_space & ~femur


@pytest.fixture(scope="module")
def hip() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return _hip()


def _trim(hu: np.ndarray, labels: np.ndarray, direction: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    out = labels.copy()
    ct = Volume(hu, SPACING, (0.0, 0.0, 0.0), np.eye(3) if direction is None else direction)
    return out, trim_acetabulum(out, ct, FEMUR)


def test_the_pelvis_labelled_femur_is_trimmed_and_the_head_kept(hip) -> None:
    """Cup, iliac plate and the joint space between them and the head (beyond the head's blurred edge) go;
    head, neck and shaft stay."""
    hu, femur, pelvis, joint_space = hip
    labels = (femur | pelvis | joint_space).astype(np.uint8)
    out, removed = _trim(hu, labels)
    assert removed == np.count_nonzero(labels) - np.count_nonzero(out)
    assert np.count_nonzero(out[pelvis]) <= 0.01 * np.count_nonzero(pelvis)
    beyond_edge = joint_space & (_distance_to_centre(labels.shape) > RADIUS + HEAD_MARGIN_MM + 0.5)
    assert np.count_nonzero(out[beyond_edge]) <= 0.05 * np.count_nonzero(beyond_edge)
    assert np.count_nonzero(out[femur] == FEMUR) >= 0.99 * np.count_nonzero(femur)


def _distance_to_centre(shape: tuple[int, ...]) -> np.ndarray:
    grids = np.indices(shape, dtype=np.float32) * np.array(SPACING, dtype=np.float32)[:, None, None, None]
    return np.sqrt(sum((g - c) ** 2 for g, c in zip(grids, CENTRE)))


def test_the_head_found_is_the_drawn_one(hip) -> None:
    hu, femur, pelvis, joint_space = hip
    top = (slice(60, 100), slice(None), slice(None))
    head = find_head(hu[top], (femur | pelvis | joint_space)[top], SPACING, axis=0, sign=1.0)
    assert head is not None
    centre_mm = (head.centre_index + [60, 0, 0]) * np.array(SPACING)
    assert np.linalg.norm(centre_mm - CENTRE) < 2.0
    assert abs(head.radius_mm - RADIUS) < 1.5


def test_a_true_femur_loses_nothing(hip) -> None:
    hu, femur, _, _ = hip
    labels = femur.astype(np.uint8)
    out, removed = _trim(hu, labels)
    assert removed <= 0.002 * np.count_nonzero(femur)


def test_a_feet_first_scan_is_trimmed_the_same(hip) -> None:
    """Slices stored from the head down (index grows inferior): the same voxels go."""
    hu, femur, pelvis, joint_space = hip
    labels = (femur | pelvis | joint_space).astype(np.uint8)
    expected, removed = _trim(hu, labels)
    assert removed > 0
    flipped = np.diag([1.0, 1.0, -1.0])  # LPS z falls as the slice index grows
    out, _ = _trim(hu[::-1].copy(), labels[::-1].copy(), flipped)
    np.testing.assert_array_equal(out[::-1], expected)


def test_a_femur_whose_top_the_scan_cuts_is_left_alone(hip) -> None:
    """The scan's last slice runs through the head: the head is not all there to fit."""
    hu, femur, pelvis, joint_space = hip
    labels = (femur | pelvis | joint_space).astype(np.uint8)[:92]
    out, removed = _trim(hu[:92].copy(), labels)
    assert removed == 0
    np.testing.assert_array_equal(out, labels)


def test_a_femur_too_short_to_reach_its_head_is_left_alone(hip) -> None:
    """Less than 250 mm of femur in the scan: whatever its top is, it is not a femoral head."""
    hu, femur, pelvis, joint_space = hip
    keep = slice(20, 100)  # 240 mm
    labels = (femur | pelvis | joint_space).astype(np.uint8)[keep]
    out, removed = _trim(hu[keep].copy(), labels)
    assert removed == 0


def test_a_knee_scan_is_left_alone() -> None:
    """A distal femur and the top of a tibia (the femur cut by the scan): nothing to trim."""
    z, y, x = np.indices((60, 80, 80), dtype=np.float32)
    femur = (np.sqrt((y - 40) ** 2 + (x - 40) ** 2) <= 20) & (z >= 30)
    hu = np.where(femur, 800.0, 40.0).astype(np.float32)
    labels = femur.astype(np.uint8)
    out, removed = _trim(hu, labels)
    assert removed == 0


def _shaft(top_cap: bool) -> tuple[np.ndarray, np.ndarray]:
    """A 300 mm femoral shaft (14 mm radius, 1,200 HU cortex) running out of the scan's top, or ending 30 mm
    below it in a rounded end (a label the network stopped short of the head)."""
    shape = (100, 80, 80)
    z, y, x = np.indices(shape, dtype=np.float32) * np.array(SPACING, dtype=np.float32)[:, None, None, None]
    r = np.sqrt((y - 40.0) ** 2 + (x - 40.0) ** 2)
    if top_cap:
        end = 270.0
        bone = ((r <= 14.0) & (z <= end)) | (np.sqrt(r**2 + (z - end) ** 2) <= 14.0)
    else:
        bone = r <= 14.0
    hu = np.where(bone, 300.0, 40.0).astype(np.float32)
    hu[bone & ~ndimage.binary_erosion(bone, structure=np.ones((1, 5, 5), dtype=bool))] = 1200.0
    return ndimage.gaussian_filter(hu, sigma=(0.6, 0.8, 0.8)), bone


@pytest.mark.parametrize("top_cap", [False, True], ids=["cut by the scan", "rounded end"])
def test_a_femoral_shaft_without_a_head_is_left_alone(top_cap: bool) -> None:
    """A cylinder's edges vote for its axis: no point on it is a femoral head, so nothing is trimmed."""
    hu, bone = _shaft(top_cap)
    labels = bone.astype(np.uint8)
    out, removed = _trim(hu, labels)
    assert removed == 0


def test_both_femurs_joined_through_pelvis_labelled_femur_are_each_trimmed_as_alone(hip) -> None:
    """Two hips side by side, their labelled pelvis bridged by a pubic bone labelled femur: the piece is cut
    between the legs (core/inference/two_legs.py) and each femur loses its own acetabulum and ilium as it
    would alone, and nothing of the other leg (a trim of the joined piece once took the other trochanter)."""
    hu, femur, pelvis, joint_space = hip
    labels = (femur | pelvis | joint_space).astype(np.uint8)
    both_hu = np.concatenate([hu[:, :, ::-1], hu], axis=2)
    both = np.concatenate([labels[:, :, ::-1], labels], axis=2)
    both[85:95, 50:70, 120:160] = FEMUR  # labelled pubic bone between the hips
    both_hu[85:95, 50:70, 120:160] = 700.0
    out, removed = _trim(both_hu, both)
    single, removed_alone = _trim(hu, labels)
    assert removed_alone > 0
    width = hu.shape[2]
    for side in (out[:, :, width:], out[:, :, :width][:, :, ::-1]):
        assert (side[femur] == FEMUR).all()  # the whole femur stays
        assert np.count_nonzero(side[pelvis] == FEMUR) <= np.count_nonzero(single[pelvis] == FEMUR)
