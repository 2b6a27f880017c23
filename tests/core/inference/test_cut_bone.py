"""A bone cut open by the field of view's edge gets its label out to the cut; nothing else grows."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from scipy import ndimage

from kneeseg_app.core.inference import cut_bone
from kneeseg_app.core.inference.cut_bone import (
    _disk,
    fill_cut_bone,
    grow_in_plane,
    joined_to_edge,
    near_in_plane,
    near_metal_in_box,
    opening_of,
)
from kneeseg_app.core.inference.densities import METAL_HU
from kneeseg_app.core.volume import Volume

FEMUR, TIBIA = 1, 2
SPACING = (1.0, 0.5, 0.5)


def _cut_knee(metal: bool = False) -> tuple[Volume, np.ndarray, np.ndarray]:
    """Soft tissue in a 70-pixel reconstruction circle; a femur (marrow 350 HU, cortex 1200 HU) whose right
    side runs past the circle, so no cortex closes it there; the label stops 12 pixels short of the cut."""
    z, y, x = np.indices((6, 100, 100))
    inside = (y - 50) ** 2 + (x - 50) ** 2 <= 45**2
    hu = np.where(inside, 40.0, -1024.0).astype(np.float32)
    bone = (np.abs(y - 50) <= 15) & (x >= 40)
    cortex = bone & ((np.abs(y - 50) >= 13) | (x <= 42))
    hu[bone & inside] = 350.0
    hu[cortex & inside] = 1200.0
    truth = (bone & inside).astype(np.uint8) * FEMUR
    labels = truth.copy()
    labels[:, :, 78:] = 0  # the network stopped short of the cut
    hu[:, 20:26, 45:60] = 900.0  # a patella 5 pixels in front, separate, never cut
    if metal:
        hu[:, 44:56, 67:71] = 3000.0  # an implant inside the cut bone: its streaks are no bone
    return Volume(hu, SPACING), labels, truth


def test_the_label_grows_out_to_the_edge_where_the_field_of_view_cuts_the_bone() -> None:
    ct, labels, truth = _cut_knee()
    added = fill_cut_bone(labels, ct, (FEMUR, TIBIA))
    assert added[FEMUR] > 0 and added[TIBIA] == 0
    missed_before = np.count_nonzero((truth == FEMUR) & (labels != FEMUR))
    assert missed_before <= 0.02 * np.count_nonzero(truth), "the cut marrow is femur again"
    assert not labels[:, 20:26, 45:60].any(), "the separate patella is not taken"


def test_nothing_grows_where_no_bone_is_cut() -> None:
    ct, labels, truth = _cut_knee()
    whole = truth.copy()
    before = whole.copy()
    fill_cut_bone(whole, ct, (FEMUR, TIBIA))
    assert np.array_equal(whole, before), "a bone labelled to the edge already, no soft tissue or patella taken"


def test_pixels_near_metal_are_never_taken() -> None:
    """An implant 7 pixels (3.5 mm) from the label's end: the cut beyond is within its streaks' reach."""
    ct, labels, _ = _cut_knee(metal=True)
    before = labels.copy()
    assert fill_cut_bone(labels, ct, (FEMUR, TIBIA)) == {FEMUR: 0, TIBIA: 0}
    assert np.array_equal(labels, before)


def test_only_the_slices_where_the_bone_is_cut_change() -> None:
    """The rule works slice by slice, on the slices where dense pixels meet the view's edge only: slices
    where the bone stays inside the circle keep their labels, the cut ones are filled as before."""
    ct, labels, truth = _cut_knee()
    inside_only = np.zeros(ct.shape, dtype=bool)
    inside_only[[0, 3]] = True  # in these two slices the bone ends 20 pixels inside the circle
    ct.array[inside_only & (np.indices(ct.shape)[2] >= 76)] = 40.0
    truth[inside_only & (np.indices(ct.shape)[2] >= 76)] = 0
    before = labels.copy()
    added = fill_cut_bone(labels, ct, (FEMUR, TIBIA))
    assert np.array_equal(labels[[0, 3]], before[[0, 3]])
    for k in (1, 2, 4, 5):
        assert np.count_nonzero((truth[k] == FEMUR) & (labels[k] != FEMUR)) <= 0.02 * np.count_nonzero(truth[k])
    assert added[FEMUR] == np.count_nonzero(labels != before)


def test_a_slice_is_worked_on_only_where_dense_pixels_join_a_bone_to_the_edge() -> None:
    """Slice 0: a dense table touching the edge, away from the bone; slice 1: marrow running from the bone's
    label to the edge; slice 2: nothing dense at the edge. Only slice 1 can change."""
    free = np.zeros((3, 20, 20), dtype=bool)
    edge = np.zeros((3, 20, 20), dtype=bool)
    edge[:, :, 19] = True
    region = np.zeros((3, 20, 20), dtype=np.uint8)
    region[:, 8:12, 4:10] = FEMUR
    free[0, 17:19, 12:20] = True  # the table: at the edge, far from the femur
    free[1, 8:12, 10:20] = True  # the cut marrow: from the femur's label to the edge
    free[2, 8:12, 10:15] = True  # unlabelled bone that stops inside the view
    joined = joined_to_edge(free, edge, region, (FEMUR, TIBIA), _disk(1))
    assert joined.any(axis=(1, 2)).tolist() == [False, True, False]
    assert np.array_equal(joined[1], free[1])  # the whole piece of marrow, nothing else


@pytest.mark.parametrize("radius", [1, 4, 12])
def test_near_metal_is_the_in_plane_disk_dilation_at_any_radius(radius: int) -> None:
    """The metal margin is a distance test now (a 33-pixel disk dilation took 24 s on a knee replacement at
    0.3 mm pixels); it must give exactly the pixels the disk gave, slice by slice, up to the image's edge."""
    rng = np.random.default_rng(radius)
    metal = np.zeros((7, 60, 50), dtype=bool)
    metal[1:4] = rng.random((3, 60, 50)) > 0.997
    metal[5, 0, 49] = True  # a corner pixel
    expected = ndimage.binary_dilation(metal, structure=_disk(radius))
    np.testing.assert_array_equal(near_in_plane(metal, radius), expected)
    assert not near_in_plane(np.zeros((3, 8, 8), dtype=bool), radius).any()


@pytest.mark.parametrize("corner", [(0, 0), (55, 45), (30, 2)])
def test_near_metal_in_a_box_counts_metal_just_outside_it(corner: tuple[int, int]) -> None:
    """Within a box, the pixels near metal are those of the whole plane's metal margin, metal outside the box
    (up to the margin away) included; metal farther out marks nothing."""
    hu = np.zeros((60, 50), dtype=np.int16)
    hu[corner] = int(METAL_HU)
    hu[30, 20] = int(METAL_HU) + 100  # one inside the box
    box = (slice(8, 52), slice(8, 42))
    plane = ndimage.binary_dilation(hu >= METAL_HU, structure=_disk(6)[1])
    np.testing.assert_array_equal(near_metal_in_box(hu, box, 6), plane[box])
    assert not near_metal_in_box(np.zeros((60, 50), dtype=np.int16), box, 6).any()


@pytest.mark.parametrize("radius", [1, 3, 5])
def test_the_opening_on_the_masks_pixels_is_scipys_opening(radius: int) -> None:
    """Cut marrow is opened on its own pixels only (scipy then skips the background): the result must be
    scipy's binary opening exactly, pixel for pixel, also where pieces touch the slab's border."""
    rng = np.random.default_rng(radius)
    smooth = ndimage.gaussian_filter(rng.random((4, 90, 70)), (0, 4, 4))
    mask = smooth > np.quantile(smooth, 0.55)
    expected = ndimage.binary_opening(mask, structure=_disk(radius))
    assert expected.any() and (mask & ~expected).any()  # the opening does remove rims here
    np.testing.assert_array_equal(opening_of(mask, _disk(radius)), expected)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_growing_in_plane_is_the_cross_dilation_slice_by_slice(steps: int) -> None:
    """Bones are grown by shifted ORs (scipy's dilation was half a second on 300 slices of 512 x 512): the
    same pixels as the one-slice cross dilated ``steps`` times, nothing leaking into the next slice."""
    rng = np.random.default_rng(steps)
    mask = rng.random((5, 40, 30)) > 0.97
    mask[2, 0, 0] = mask[3, 39, 29] = True  # corners
    expected = ndimage.binary_dilation(mask, structure=_disk(1), iterations=steps)
    np.testing.assert_array_equal(grow_in_plane(mask, steps), expected)
    assert not grow_in_plane(np.zeros((2, 4, 4), dtype=bool), steps).any()


def test_slabs_worked_on_alone_and_in_threads_give_the_labels_of_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every step is in-plane, so the slices are cut into slabs of SLAB_SLICES and given to the engine's
    threads: on 70 slices where the cut and the labels' stop change from slice to slice (and metal sits in
    some), the labels and counts equal one pass over all slices at once."""
    rng = np.random.default_rng(5)
    slices = [_cut_knee(metal=bool(k % 3 == 0)) for k in range(12)]
    hu = np.concatenate([ct.array for ct, _, _ in slices])[:70]
    labels = np.concatenate([lab for _, lab, _ in slices])[:70]
    for k in range(70):  # the network stops at a different column in each slice, some reach the cut
        labels[k, :, 70 + int(rng.integers(0, 25)) :] = 0
    ct = Volume(hu, SPACING)
    one_pass = labels.copy()
    monkeypatch.setattr(cut_bone, "SLAB_SLICES", 1000)
    expected = fill_cut_bone(one_pass, ct, (FEMUR, TIBIA))
    monkeypatch.undo()
    assert cut_bone.SLAB_SLICES < 70 and expected[FEMUR] > 0
    with ThreadPoolExecutor(2) as pool:
        threaded = labels.copy()
        assert fill_cut_bone(threaded, ct, (FEMUR, TIBIA), pool) == expected
    np.testing.assert_array_equal(threaded, one_pass)
    serial = labels.copy()
    assert fill_cut_bone(serial, ct, (FEMUR, TIBIA)) == expected
    np.testing.assert_array_equal(serial, one_pass)
