"""A femoral head in its acetabulum is no knee; condyles beside a patella are."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.inference.hip_socket import (
    MAX_SOCKET_SHARE,
    femur_end,
    judge_socket,
    socket_share,
)
from kneeseg_app.core.inference.knee_joint import KneeJoint
from kneeseg_app.core.volume import Volume

SPACING = (1.0, 1.0, 1.0)
FEMUR = 1


def _grid(shape=(80, 100, 100)) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    z, y, x = np.indices(shape, dtype=np.float32)
    return z, y, x


def _head_in_socket(socket: bool, metal: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """A 22 mm ball of bone (HU 600) and, around its upper half, a 4 mm thick cup 4 mm beyond its surface."""
    z, y, x = _grid()
    r = np.sqrt((z - 40) ** 2 + (y - 50) ** 2 + (x - 50) ** 2)
    hu = np.full(r.shape, 40.0, dtype=np.float32)
    head = r <= 22
    hu[head] = 600.0
    if socket:
        hu[(r >= 26) & (r <= 30) & (z >= 40)] = 3000.0 if metal else 900.0
    return hu, head


def test_a_head_in_its_socket_has_much_bone_around_it() -> None:
    hu, head = _head_in_socket(socket=True)
    assert socket_share(hu, head, head, SPACING) > 2 * MAX_SOCKET_SHARE


def test_a_bone_alone_in_soft_tissue_has_none() -> None:
    hu, head = _head_in_socket(socket=False)
    assert socket_share(hu, head, head, SPACING) == 0.0


def test_bone_the_network_labelled_is_no_socket() -> None:
    hu, head = _head_in_socket(socket=True)
    assert socket_share(hu, hu > 300, head, SPACING) == 0.0


def test_metal_around_a_bone_is_no_socket() -> None:
    """A knee replacement's component and its blurred rim are not an acetabulum."""
    hu, head = _head_in_socket(socket=True, metal=True)
    assert socket_share(hu, head, head, SPACING) == 0.0


def test_a_patella_beside_the_condyles_stays_below_the_limit() -> None:
    """Condyles 70 x 50 mm over 50 mm, a 40 x 30 x 12 mm patella 5 mm in front of them."""
    shape = (80, 120, 120)
    hu = np.full(shape, 40.0, dtype=np.float32)
    femur = np.zeros(shape, dtype=bool)
    femur[10:75, 40:90, 25:95] = True
    hu[femur] = 500.0
    hu[20:60, 23:35, 45:75] = 900.0  # patella, anterior (low y), 5 mm off the femur
    share = socket_share(hu, femur, femur_end(femur, 0, 1.0, 1.0), SPACING)
    assert 0.0 < share < MAX_SOCKET_SHARE


@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_the_end_measured_is_the_lowest_50_mm_whichever_way_slices_run(sign: float) -> None:
    femur = np.zeros((120, 4, 4), dtype=bool)
    femur[10:110] = True
    end = femur_end(femur, 0, sign, 1.0)
    rows = np.flatnonzero(end.any(axis=(1, 2)))
    assert len(rows) == 51
    assert rows[0] == (10 if sign > 0 else 59)


def test_judge_socket_turns_a_passing_leg_with_a_head_in_a_socket_into_no_knee() -> None:
    hu, head = _head_in_socket(socket=True)
    leg = head.astype(np.uint8) * FEMUR
    box = tuple(slice(0, n) for n in hu.shape)
    judged = judge_socket(KneeJoint("", 4.0, 1.0, 1.5), leg, leg, box, Volume(hu, SPACING), FEMUR)
    assert not judged.is_knee
    assert "acetabulum" in judged.reason
    assert judged.socket_share is not None and judged.socket_share > MAX_SOCKET_SHARE


def test_judge_socket_keeps_a_knee_without_one_and_leaves_failed_legs_alone() -> None:
    hu, head = _head_in_socket(socket=False)
    leg = head.astype(np.uint8) * FEMUR
    box = tuple(slice(0, n) for n in hu.shape)
    kept = judge_socket(KneeJoint("", 4.0, 1.0, 1.5), leg, leg, box, Volume(hu, SPACING), FEMUR)
    assert kept.is_knee and kept.socket_share == 0.0
    failed = KneeJoint("a femur without a tibia (no knee joint)")
    assert judge_socket(failed, leg, leg, box, Volume(hu, SPACING), FEMUR) is failed
