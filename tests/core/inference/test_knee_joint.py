"""A knee is a femur above a tibia, meeting at a joint, the tibia widening into its plateau; a
thigh, calf, hip, ankle or a shaft split by a label change is not."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.inference.knee_joint import (
    MIN_TIBIA_FLARE,
    at_view_edge,
    find_knee_joint,
    flare,
    superior_axis,
)
from kneeseg_app.core.volume import Volume

MM = 2.0
ML = 0.001  # 1 mm^3 voxels: 1000 voxels are 1 mL


def _profiles(
    femur: list[tuple[int, int]], tibia: list[tuple[int, int]], n: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Voxels per slice of a scan (inferior to superior) from runs of (slices, area): the tibia from the
    scan's first slice, one empty slice, the femur up to the scan's last slice unless ``n`` is longer."""
    n = n or sum(c for c, _ in tibia) + 1 + sum(c for c, _ in femur)

    def build(runs: list[tuple[int, int]], start: int) -> np.ndarray:
        area = np.zeros(n)
        for count, value in runs:
            area[start : start + count] = value
            start += count
        return area

    tibia_area = build(tibia, 0)
    femur_start = sum(count for count, _ in tibia)
    return build(femur, femur_start + 1), tibia_area


def test_a_knee_the_tibia_widening_into_its_plateau_passes() -> None:
    femur, tibia = _profiles(femur=[(10, 4000), (20, 2500)], tibia=[(20, 1500), (10, 3500)])
    joint = find_knee_joint(femur, tibia, MM, ML)
    assert joint.is_knee, joint.reason
    assert joint.gap_mm == pytest.approx(4.0)  # slice centres: one empty slice between them
    assert joint.tibia_flare == pytest.approx(3500 / 1500)


def test_one_bone_alone_is_no_knee() -> None:
    femur, tibia = _profiles(femur=[(30, 2500)], tibia=[(30, 0)])
    assert find_knee_joint(femur, tibia, MM, ML).reason == "a femur without a tibia (no knee joint)"
    assert find_knee_joint(tibia + femur * 0, femur, MM, ML).reason.startswith("a tibia without a femur")
    assert find_knee_joint(femur * 0, femur * 0, MM, ML).reason == "less than 5 mL of femur and of tibia"


def test_a_tibia_growing_away_from_its_joint_is_an_ankle_or_a_hip() -> None:
    """Talus (small) above the heel bone (large), or a femoral head above its trochanters."""
    femur, tibia = _profiles(femur=[(25, 1500)], tibia=[(15, 3000), (10, 1200)])
    joint = find_knee_joint(femur, tibia, MM, ML)
    assert not joint.is_knee and "does not widen toward the joint" in joint.reason
    assert joint.tibia_flare is not None and joint.tibia_flare < MIN_TIBIA_FLARE


def test_bones_far_apart_or_side_by_side_or_upside_down_are_no_joint() -> None:
    femur, tibia = _profiles(femur=[(10, 4000), (10, 2500)], tibia=[(20, 1500), (10, 3500)], n=80)
    apart = np.concatenate([np.zeros(20), femur[:-20]])  # 20 slices (40 mm) higher
    assert "apart" in find_knee_joint(apart, tibia, MM, ML).reason
    assert "below" in find_knee_joint(tibia, femur, MM, ML).reason
    beside = np.concatenate([np.zeros(5), tibia[:-5]])  # level with it, a little higher
    assert "side by side" in find_knee_joint(beside, tibia, MM, ML).reason


def test_a_short_scan_that_cannot_show_the_metaphysis_is_not_judged_by_flare() -> None:
    """A 60 mm scan around the joint: 30 mm of each bone."""
    femur, tibia = _profiles(femur=[(15, 3000)], tibia=[(15, 2800)])
    joint = find_knee_joint(femur, tibia, MM, ML)
    assert joint.is_knee and joint.tibia_flare is None


def test_a_bone_ending_inside_the_scan_short_of_a_whole_femur_or_tibia_is_no_knee() -> None:
    """A femoral head above its neck (the hip), or a talus above nothing (the foot's end): a knee's femur
    runs on to the hip and its tibia to the ankle, out of the scan."""
    femur, tibia = _profiles(femur=[(10, 4000), (20, 2500)], tibia=[(20, 1500), (10, 3500)])
    head = np.concatenate([femur[:-15], np.zeros(15)])  # the femur-like bone stops 30 mm below the scan's top
    assert "femur-like bone ends inside the scan" in find_knee_joint(head, tibia, MM, ML).reason
    foot = np.concatenate([np.zeros(15), tibia[15:]])
    assert "tibia-like bone ends inside the scan" in find_knee_joint(femur, foot, MM, ML).reason
    stray = head.copy()
    stray[-1] = 10  # a few stray voxels at the scan's top do not make a femur
    assert not find_knee_joint(stray, tibia, MM, ML).is_knee


def test_whole_bones_in_a_hip_to_ankle_scan_may_end_inside_it() -> None:
    femur, tibia = _profiles(femur=[(10, 4000), (140, 2500), (10, 3000)], tibia=[(10, 1200), (120, 1500), (10, 3500)])
    padded_f, padded_t = (np.concatenate([np.zeros(20), a, np.zeros(20)]) for a in (femur, tibia))
    assert find_knee_joint(padded_f, padded_t, MM, ML).is_knee


def test_flare_is_the_joint_end_over_the_metaphysis_and_none_when_the_bone_ends_first() -> None:
    area = np.array([10.0] * 30 + [30.0] * 10)  # inferior to superior; the plateau on top
    assert flare(area, joint_index=39, away=-1, slice_mm=2.0) == pytest.approx(3.0)
    assert flare(area[24:], joint_index=15, away=-1, slice_mm=2.0) is None  # 32 mm of bone


@pytest.mark.parametrize(
    ("direction", "expected"),
    [
        (np.eye(3), (0, 1.0)),
        (np.diag([1.0, 1.0, -1.0]), (0, -1.0)),
        (np.array([[1, 0, 0], [0, 0, 1], [0, 1, 0.0]]), (1, 1.0)),
    ],
)
def test_the_superior_axis_follows_the_direction(direction: np.ndarray, expected: tuple[int, float]) -> None:
    assert superior_axis(direction) == expected


def test_a_femur_ending_inside_the_scan_is_no_knee_unless_it_leaves_the_field_of_view_sideways() -> None:
    """A femur-like bone 60 mm long ending 40 mm short of the scan's top is something else (a femoral head),
    unless the field of view's edge cuts it there: then it runs on, out of view, as a thigh that leaves a
    small field of view does."""
    femur, tibia = _profiles(femur=[(10, 4000), (20, 2500), (20, 0)], tibia=[(20, 1500), (10, 3500)])
    assert "ends inside the scan" in find_knee_joint(femur, tibia, MM, ML).reason
    femur_edge = np.zeros(len(femur), dtype=bool)
    femur_edge[np.flatnonzero(femur)[-1]] = True  # its top slice touches the edge of the view
    joint = find_knee_joint(femur, tibia, MM, ML, (femur_edge, np.zeros_like(femur_edge)))
    assert joint.is_knee, joint.reason
    low_edge = np.zeros_like(femur_edge)
    low_edge[np.flatnonzero(femur)[0]] = True  # cut at its condyles only: its top still ends in the patient
    assert not find_knee_joint(femur, tibia, MM, ML, (low_edge, np.zeros_like(low_edge))).is_knee


def test_a_bone_at_the_image_border_or_next_to_padding_is_at_the_view_edge() -> None:
    shape = (6, 40, 40)
    hu = np.full(shape, 40.0, dtype=np.float32)
    inside = np.zeros(shape, dtype=bool)
    inside[:, 15:25, 15:25] = True
    ct = Volume(hu, (2.0, 1.0, 1.0))
    box = tuple(slice(0, n) for n in shape)
    assert not at_view_edge(inside, _area(inside), box, ct, 0).any()  # soft tissue all round
    at_border = np.zeros(shape, dtype=bool)
    at_border[:, 15:25, 30:40] = True
    assert at_view_edge(at_border, _area(at_border), box, ct, 0).all()
    padded = hu.copy()
    padded[:, :, 25:] = -1024.0  # the reconstruction circle cuts it: padding right beside the bone
    assert at_view_edge(inside, _area(inside), box, Volume(padded, (2.0, 1.0, 1.0)), 0).all()
    inner_box = (slice(0, 6), slice(5, 35), slice(5, 35))  # a box inside the image: its edge is no border
    assert not at_view_edge(inside[inner_box], _area(inside[inner_box]), inner_box, ct, 0).any()


def _area(mask: np.ndarray) -> np.ndarray:
    return np.count_nonzero(mask, axis=(1, 2))
