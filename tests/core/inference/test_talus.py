"""Where a scan reaches the ankle, the tibia ends at its plafond: a talus labelled tibia goes, the malleolus stays."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.inference.talus import joint_slice, talus_voxels, trim_talus
from kneeseg_app.core.volume import Volume

SPACING = (3.0, 1.0, 1.0)
TIBIA = 2
PLAFOND_MM = 60.0  # height of the plafond above the scan's first slice


def _ankle(
    shape: tuple[int, int, int] = (110, 90, 90), width: float = 1.0, foot: bool = False
) -> dict[str, np.ndarray]:
    """A 270 mm tibia (16 mm shaft radius, flaring to a 20 x 18 mm distal metaphysis) ending flat at its
    plafond, a medial malleolus (5 mm radius) reaching 15 mm lower, and a talus (13 x 22 x 14 mm) 3 mm
    under the plafond and 2 mm from the malleolus; ``width`` scales every in-plane size (a small adult's
    or a child's ankle), ``foot`` adds a calcaneus under the talus. z grows superior; medial is +x."""
    z, y, x = np.indices(shape, dtype=np.float32) * np.array(SPACING, dtype=np.float32)[:, None, None, None]
    y, x = (y - 45.0) / width, (x - 45.0) / width
    height = z - PLAFOND_MM
    radius = np.interp(height, [0.0, 40.0, 80.0], [1.0, 0.85, 0.8])
    shaft = ((y / (18.0 * radius)) ** 2 + (x / (20.0 * radius)) ** 2 <= 1.0) & (height >= 0.0)
    malleolus = ((y**2 + (x - 20.0) ** 2) <= 25.0) & (height >= -15.0) & (height < 0.0)
    talus = (y / 22.0) ** 2 + (x / 13.0) ** 2 + ((height + 17.0) / 14.0) ** 2 <= 1.0
    calcaneus = ((y - 8.0) / 30.0) ** 2 + (x / 16.0) ** 2 + ((height + 43.0) / 12.0) ** 2 <= 1.0
    talus = talus | calcaneus if foot else talus
    return {"tibia": shaft | malleolus, "malleolus": malleolus, "talus": talus & ~malleolus}


@pytest.fixture(scope="module")
def ankle() -> dict[str, np.ndarray]:
    return _ankle()


def _trim(labels: np.ndarray, direction: np.ndarray | None = None) -> tuple[np.ndarray, int]:
    out = labels.copy()
    hu = np.where(labels > 0, 700.0, 40.0).astype(np.float32)
    ct = Volume(hu, SPACING, (0.0, 0.0, 0.0), np.eye(3) if direction is None else direction)
    return out, trim_talus(out, ct, TIBIA)


def test_a_talus_labelled_tibia_is_removed_and_the_malleolus_kept(ankle) -> None:
    labels = np.where(ankle["tibia"] | ankle["talus"], TIBIA, 0).astype(np.uint8)
    out, removed = _trim(labels)
    assert removed == np.count_nonzero(labels) - np.count_nonzero(out)
    assert np.count_nonzero(out[ankle["talus"]]) <= 0.05 * np.count_nonzero(ankle["talus"])
    assert np.count_nonzero(out[ankle["malleolus"]]) >= 0.9 * np.count_nonzero(ankle["malleolus"])
    assert np.count_nonzero(out[ankle["tibia"]]) >= 0.99 * np.count_nonzero(ankle["tibia"])


def test_a_true_tibia_with_its_malleolus_loses_nothing(ankle) -> None:
    labels = np.where(ankle["tibia"], TIBIA, 0).astype(np.uint8)
    out, removed = _trim(labels)
    assert removed == 0


def test_a_feet_first_scan_is_trimmed_the_same(ankle) -> None:
    labels = np.where(ankle["tibia"] | ankle["talus"], TIBIA, 0).astype(np.uint8)
    expected, removed = _trim(labels)
    assert removed > 0
    out, _ = _trim(labels[::-1].copy(), np.diag([1.0, 1.0, -1.0]))
    np.testing.assert_array_equal(out[::-1], expected)


def test_a_tibia_the_scan_cuts_below_is_left_alone(ankle) -> None:
    """The scan's first slice runs through the talus: the tibia's end is not all in view."""
    labels = np.where(ankle["tibia"] | ankle["talus"], TIBIA, 0).astype(np.uint8)[12:]
    out, removed = _trim(labels)
    assert removed == 0


def test_a_knee_scan_tibia_is_left_alone() -> None:
    """Less than 250 mm of tibia: its lowest slice is no plafond, whatever its shape."""
    ankle = _ankle(shape=(80, 90, 90))
    labels = np.where(ankle["tibia"] | ankle["talus"], TIBIA, 0).astype(np.uint8)
    out, removed = _trim(labels)
    assert removed == 0


@pytest.mark.parametrize(
    ("area", "joint"),
    [
        ([400, 900, 1200, 1100, 300, 1000, 1300], 4),  # talus, joint, plafond
        ([40, 60, 90, 130, 1000, 1200, 1300], None),  # malleolus tip, then plafond: only widens upward
        ([1000, 1000, 1000, 1000], None),  # a shaft
        ([900, 1000, 700, 1100], None),  # a shallow waist is no joint
    ],
)
def test_the_joint_is_a_deep_narrowing_between_wider_bone(area: list[int], joint: int | None) -> None:
    assert joint_slice(np.array(area)) == joint


def test_nothing_is_taken_without_a_joint(ankle) -> None:
    tibia = ankle["tibia"][:15]
    assert not talus_voxels(tibia, SPACING, 0, 1.0).any()


def test_a_small_ankle_loses_its_talus_too() -> None:
    """A talus narrower than 16 mm under a small plafond (a phantom's 13 mm talus under an 18 mm wide
    distal tibia): the disk that finds the talus is at most half the plafond's width, so it still fits the
    talus and not the malleolus."""
    ankle = _ankle(width=0.5)
    labels = np.where(ankle["tibia"] | ankle["talus"], TIBIA, 0).astype(np.uint8)
    out, removed = _trim(labels)
    assert np.count_nonzero(out[ankle["talus"]]) <= 0.1 * np.count_nonzero(ankle["talus"])  # its thin top and tips
    assert np.count_nonzero(out[ankle["malleolus"]]) >= 0.8 * np.count_nonzero(ankle["malleolus"])
    assert np.count_nonzero(out[ankle["tibia"]]) >= 0.99 * np.count_nonzero(ankle["tibia"])


def test_foot_bones_labelled_tibia_under_the_talus_go_and_then_the_talus() -> None:
    """Seen on a hip-to-ankle phantom: talus and calcaneus labelled tibia put the tibia's lowest slice
    57 mm under the plafond, so the first pass found the narrowing between calcaneus and talus and took
    the calcaneus only; the trim is repeated from the new lowest slice."""
    ankle = _ankle(shape=(110, 90, 90), foot=True)
    labels = np.where(ankle["tibia"] | ankle["talus"], TIBIA, 0).astype(np.uint8)
    out, removed = _trim(labels)
    assert np.count_nonzero(out[ankle["talus"]]) <= 0.05 * np.count_nonzero(ankle["talus"])
    assert np.count_nonzero(out[ankle["tibia"]]) >= 0.99 * np.count_nonzero(ankle["tibia"])
