"""Synthetic knee CT phantoms: deterministic, anatomically ordered, CT-like, exact labels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from kneeseg_app.core.errors import Cancelled
from kneeseg_app.core.phantom import bone_mask, draw_params, generate_phantom
from kneeseg_app.core.phantom.frames import leg_frames
from kneeseg_app.core.phantom.render import FAT, MUSCLE
from kneeseg_app.core.progress import CancelToken

SMALL = (48, 128, 128)
JOINT_GRID = dict(shape_zyx=(64, 128, 128), spacing_zyx=(1.0, 0.9, 0.9), coverage_mm=(32.0, 32.0))


def femur_tibia_gap_mm(phantom) -> float:
    """Smallest distance (mm) between a femur voxel centre and a tibia voxel centre."""
    labels = phantom.labels.array
    distance = ndimage.distance_transform_edt(labels != 1, sampling=phantom.labels.spacing_zyx)
    return float(distance[labels == 2].min())


@pytest.fixture(scope="module")
def tissue_phantom():
    """A moderately sized, low-noise phantom with its tissue map (shared by the HU tests)."""
    return generate_phantom(
        4,
        shape_zyx=(80, 192, 192),
        spacing_zyx=(2.5, 1.0, 1.0),
        noise_sd=5.0,
        kernel="STANDARD",
        both_legs=False,
        with_tissues=True,
    )


def test_the_same_seed_gives_the_same_phantom() -> None:
    a = generate_phantom(5, shape_zyx=SMALL)
    b = generate_phantom(5, shape_zyx=SMALL)
    assert a.params == b.params
    assert np.array_equal(a.ct.array, b.ct.array)
    assert np.array_equal(a.labels.array, b.labels.array)


def test_different_seeds_give_different_knees() -> None:
    a = generate_phantom(1, shape_zyx=SMALL)
    b = generate_phantom(2, shape_zyx=SMALL)
    assert a.params.legs[0].shape != b.params.legs[0].shape
    assert not np.array_equal(a.labels.array, b.labels.array)


def test_overriding_one_choice_keeps_every_other_draw() -> None:
    healthy = draw_params(9, osteoarthritis=False)
    diseased = draw_params(9, osteoarthritis=True)
    assert healthy.acquisition == diseased.acquisition
    assert healthy.legs[0].shape == diseased.legs[0].shape
    assert healthy.legs[0].knee_lps == diseased.legs[0].knee_lps
    assert not healthy.osteoarthritis and diseased.osteoarthritis


def test_ct_is_int16_hu_and_labels_are_0_1_2_on_the_same_grid() -> None:
    phantom = generate_phantom(3, shape_zyx=SMALL)
    assert phantom.ct.array.dtype == np.int16
    assert phantom.labels.array.dtype == np.uint8
    assert phantom.labels.same_grid(phantom.ct)
    assert set(np.unique(phantom.labels.array)) == {0, 1, 2}
    assert phantom.ct.dicom is not None and phantom.ct.dicom.modality == "CT"


def test_femur_lies_above_the_tibia() -> None:
    for seed in (0, 6):
        labels = generate_phantom(seed, shape_zyx=SMALL).labels.array
        z_femur = np.nonzero(labels == 1)[0].mean()
        z_tibia = np.nonzero(labels == 2)[0].mean()
        assert z_femur > z_tibia + 5  # array z grows towards the head (LPS)


def test_fibula_and_patella_are_present_but_never_labelled(tissue_phantom) -> None:
    tissues, labels = tissue_phantom.tissues.array, tissue_phantom.labels.array
    fibula, patella = bone_mask(tissues, "fibula"), bone_mask(tissues, "patella")
    assert fibula.sum() > 200 and patella.sum() > 200
    assert not labels[fibula].any() and not labels[patella].any()
    spacing = tissue_phantom.labels.spacing_zyx
    to_tibia = ndimage.distance_transform_edt(labels != 2, sampling=spacing)
    to_femur = ndimage.distance_transform_edt(labels != 1, sampling=spacing)
    assert to_tibia[fibula].min() < 4.0, "the fibular head sits right against the tibia"
    assert to_femur[patella].min() < 9.0, "the patella rides on the femoral trochlea"
    # The patella is in front (smaller y in LPS) of the femur, the fibula behind the tibia's centre.
    y = np.arange(labels.shape[1])[None, :, None]
    assert np.broadcast_to(y, labels.shape)[patella].mean() < np.broadcast_to(y, labels.shape)[labels == 1].mean()
    assert np.broadcast_to(y, labels.shape)[fibula].mean() > np.broadcast_to(y, labels.shape)[labels == 2].mean()


def _median_hu(phantom, mask: np.ndarray, erode: int = 1) -> float:
    core = ndimage.binary_erosion(mask, iterations=erode) if erode else mask
    assert core.sum() > 50
    return float(np.median(phantom.ct.array[core])) - phantom.params.acquisition.hu_offset


def test_tissues_have_ct_numbers_of_real_tissue(tissue_phantom) -> None:
    ph = tissue_phantom
    tissues = ph.tissues.array
    cortex = bone_mask(tissues, "femur", "cortex") | bone_mask(tissues, "tibia", "cortex")
    cancellous = bone_mask(tissues, "femur", "cancellous") | bone_mask(tissues, "tibia", "cancellous")
    marrow = bone_mask(tissues, "femur", "marrow") | bone_mask(tissues, "tibia", "marrow")
    assert 1000 <= _median_hu(ph, cortex) <= 1900
    assert 150 <= _median_hu(ph, cancellous) <= 400
    assert -60 <= _median_hu(ph, marrow) <= 60
    assert 25 <= _median_hu(ph, tissues == MUSCLE) <= 70
    assert -135 <= _median_hu(ph, tissues == FAT, erode=0) <= -65
    air = np.zeros_like(tissues, dtype=bool)
    air[:, :12, 70:120] = tissues[:, :12, 70:120] == 0  # in front of the knee, inside the scan circle
    assert -1040 <= _median_hu(ph, air, erode=0) <= -960


def test_cancellous_bone_is_textured_not_flat(tissue_phantom) -> None:
    ph = tissue_phantom
    cancellous = ndimage.binary_erosion(bone_mask(ph.tissues.array, "femur", "cancellous"), iterations=2)
    fat = ndimage.binary_erosion(ph.tissues.array == FAT)
    spread_bone = float(ph.ct.array[cancellous].std())
    spread_fat = float(ph.ct.array[fat].std())  # noise only
    assert spread_bone > 2.5 * spread_fat


@pytest.mark.parametrize("seed", [0, 3, 8])
def test_osteoarthritis_narrows_the_joint_space_without_merging_the_labels(seed: int) -> None:
    diseased = generate_phantom(seed, osteoarthritis=True, **JOINT_GRID)
    healthy = generate_phantom(seed, osteoarthritis=False, **JOINT_GRID)
    assert femur_tibia_gap_mm(diseased) < 1.5
    assert femur_tibia_gap_mm(healthy) > 3.0


def test_osteophytes_are_labelled_as_the_bone_they_grow_from() -> None:
    phantom = generate_phantom(
        2,
        osteoarthritis=True,
        both_legs=False,
        shape_zyx=(96, 160, 160),
        spacing_zyx=(1.0, 0.8, 0.8),
        coverage_mm=(48, 48),
    )
    leg = phantom.params.legs[0]
    frames = leg_frames(leg)
    expected = {"femur": 1, "tibia": 2}
    hits = {"femur": [], "tibia": []}
    for spur in leg.spurs:
        frame = frames.femur if spur.bone == "femur" else frames.tibia
        middle = 0.5 * (np.array(spur.base) + np.array(spur.tip)) + 0.3 * (np.array(spur.tip) - np.array(spur.base))
        index = np.round(phantom.ct.lps_to_index(frame.to_world(middle))).astype(int)
        if np.all(index >= 0) and np.all(index < phantom.ct.shape):
            hits[spur.bone].append(phantom.labels.array[tuple(index)] == expected[spur.bone])
    assert hits["femur"] and all(hits["femur"])
    assert hits["tibia"] and np.mean(hits["tibia"]) >= 0.5


def test_subchondral_sclerosis_brightens_the_bone_under_the_joint() -> None:
    def band_hu(osteoarthritis: bool) -> tuple[float, float]:
        ph = generate_phantom(
            5, osteoarthritis=osteoarthritis, noise_sd=5.0, with_tissues=True, both_legs=False, **JOINT_GRID
        )
        labels, spacing = ph.labels.array, ph.labels.spacing_zyx
        cancellous = bone_mask(ph.tissues.array, "tibia", "cancellous")
        depth = ndimage.distance_transform_edt(labels == 2, sampling=spacing)
        to_femur = ndimage.distance_transform_edt(labels != 1, sampling=spacing)
        under_joint = cancellous & (depth > 2.5) & (depth < 7.0) & (to_femur < 12.0)
        deep = cancellous & (depth > 12.0)
        return float(ph.ct.array[under_joint].mean()), float(ph.ct.array[deep].mean())

    under_oa, deep_oa = band_hu(True)
    under_ok, deep_ok = band_hu(False)
    assert under_oa - under_ok > 100, "sclerotic band in osteoarthritis"
    assert abs(deep_oa - deep_ok) < 40, "deeper bone is unchanged"


def test_flexion_turns_the_tibia_against_the_femur() -> None:
    def centre_mm(mask: np.ndarray, z: int, spacing) -> np.ndarray:
        ys, xs = np.nonzero(mask[z])
        return np.array([z * spacing[0], ys.mean() * spacing[1], xs.mean() * spacing[2]])

    def sagittal_angle(a: np.ndarray, b: np.ndarray) -> float:
        d = b - a  # from the lower to the upper cross-section centre (a shaft's axis)
        return float(np.degrees(np.arctan2(d[1], d[0])))

    def knee_angle(flexion: float) -> float:
        ph = generate_phantom(
            7,
            flexion_deg=flexion,
            both_legs=False,
            shape_zyx=(100, 128, 128),
            spacing_zyx=(2.0, 1.5, 1.5),
            coverage_mm=(100, 100),
        )
        spacing = ph.labels.spacing_zyx
        knee_z = int(ph.ct.lps_to_index(ph.params.legs[0].knee_lps)[0])
        near, far = int(60 / spacing[0]), int(90 / spacing[0])  # shafts, away from condyles and plateau
        femur, tibia = ph.labels.array == 1, ph.labels.array == 2
        femur_axis = sagittal_angle(centre_mm(femur, knee_z + near, spacing), centre_mm(femur, knee_z + far, spacing))
        tibia_axis = sagittal_angle(centre_mm(tibia, knee_z - far, spacing), centre_mm(tibia, knee_z - near, spacing))
        return femur_axis - tibia_axis

    assert knee_angle(25.0) - knee_angle(0.0) == pytest.approx(25.0, abs=3.0)


def test_grid_and_geometry_are_as_requested() -> None:
    phantom = generate_phantom(1, shape_zyx=(40, 100, 120), spacing_zyx=(3.0, 1.8, 1.6))
    ct = phantom.ct
    assert ct.shape == (40, 100, 120)
    assert ct.spacing_zyx == (3.0, 1.8, 1.6)
    assert np.allclose(ct.direction, np.eye(3))
    assert ct.origin_xyz == phantom.params.acquisition.origin_xyz


def test_drawn_grids_are_realistic_and_show_the_knee() -> None:
    for seed in range(25):
        p = draw_params(seed)
        a = p.acquisition
        nz, ny, nx = a.shape_zyx
        sz, sy, sx = a.spacing_zyx
        assert (ny, nx) == (512, 512)
        assert 0.5 <= sx == sy <= 1.0 and 0.5 <= sz <= 3.0
        extent_z = (nz - 1) * sz
        assert 160 <= extent_z <= 305
        joint_z = p.legs[0].knee_lps[2]
        assert a.origin_xyz[2] + 60 <= joint_z <= a.origin_xyz[2] + extent_z - 60
        knee_x, knee_y = p.legs[0].knee_lps[:2]
        assert a.origin_xyz[0] + 40 < knee_x < a.origin_xyz[0] + (nx - 1) * sx - 40
        assert a.origin_xyz[1] + 40 < knee_y < a.origin_xyz[1] + (ny - 1) * sy - 40
        assert 0.85 <= p.body_scale <= 1.15 and 0 <= p.legs[0].flexion_deg <= 30
        assert 5 <= a.noise_sd <= 40 and abs(a.hu_offset) <= 30


def test_both_legs_label_both_knees() -> None:
    phantom = generate_phantom(2, both_legs=True, shape_zyx=(40, 128, 128), spacing_zyx=(4.0, 3.2, 3.2))
    femurs = ndimage.label(phantom.labels.array == 1)[1]
    tibias = ndimage.label(phantom.labels.array == 2)[1]
    assert femurs >= 2 and tibias >= 2
    assert phantom.params.legs[0].side != phantom.params.legs[1].side


def test_cancelling_stops_the_generation() -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        generate_phantom(1, shape_zyx=SMALL, cancel=token)


def test_progress_is_reported_up_to_the_end() -> None:
    seen: list[float] = []
    generate_phantom(1, shape_zyx=SMALL, progress=lambda stage, fraction: seen.append(fraction))
    assert seen and seen[-1] == pytest.approx(1.0) and seen == sorted(seen)


# The 512 x 512 x 300 speed and memory check is a benchmark now: benchmarks/bench_phantom.py.
