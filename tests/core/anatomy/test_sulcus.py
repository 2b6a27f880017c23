"""The medial sulcus rule on a synthetic medial epicondyle: a dome, with and without a dent."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.anatomy.sulcus import MIN_DEPTH_MM, NOT_DISCERNIBLE, medial_sulcus

EPICONDYLE = np.array([-40.0, 0.0, 30.0])
LATERAL = np.array([40.0, 0.0, 30.0])
S0 = 0.0


def _medial_surface(dent_at: tuple[float, float] | None, depth: float = 1.5, width: float = 4.5) -> np.ndarray:
    """The medial face of a femur (femur frame: l, p, s) as points every 0.5 mm: a dome whose top is
    the epicondyle, optionally with a Gaussian dent of ``depth`` and full width ``width`` at (p, s)."""
    p, s = np.meshgrid(np.arange(-25, 25, 0.5), np.arange(8, 55, 0.5), indexing="ij")
    dp, ds = p - EPICONDYLE[1], s - EPICONDYLE[2]
    height = -0.012 * dp**2 - 0.008 * ds**2 + 0.2 * np.sin(p / 7.0 + s / 9.0)  # dome plus a gentle wave
    if dent_at is not None:
        sigma = width / 2.3548
        height -= depth * np.exp(-((p - dent_at[0]) ** 2 + (s - dent_at[1]) ** 2) / (2 * sigma**2))
    medial = np.stack([EPICONDYLE[0] - height, p, s], axis=-1).reshape(-1, 3)
    return np.concatenate([medial, medial + np.array([80.0, 0.0, 0.0])])  # and a lateral face, far away


def test_a_dent_behind_and_below_the_epicondyle_is_the_sulcus_at_its_floor() -> None:
    dent = (4.0, 26.0)  # 4 mm posterior, 4 mm distal of the prominence

    found = medial_sulcus(_medial_surface(dent), EPICONDYLE, LATERAL, S0)

    assert found.point is not None and found.depth_mm >= MIN_DEPTH_MM
    assert found.point[1:] == pytest.approx(dent, abs=0.5)
    floor_l = EPICONDYLE[0] + 0.012 * 16 + 0.008 * 16 - 0.2 * np.sin(4 / 7 + 26 / 9) + 1.5
    assert found.point[0] == pytest.approx(floor_l, abs=0.5)  # on the dent's floor, inside the dome
    assert "mm deep" in found.note


def test_without_a_dent_the_rule_says_why_and_gives_no_point() -> None:
    found = medial_sulcus(_medial_surface(None), EPICONDYLE, LATERAL, S0)

    assert found.point is None and found.depth_mm < MIN_DEPTH_MM
    assert found.note.startswith(NOT_DISCERNIBLE)


def test_a_shallow_dent_is_not_discernible_and_one_outside_the_window_is_not_sought() -> None:
    assert medial_sulcus(_medial_surface((4.0, 26.0), depth=0.3), EPICONDYLE, LATERAL, S0).point is None
    assert medial_sulcus(_medial_surface((-8.0, 26.0)), EPICONDYLE, LATERAL, S0).point is None  # in front


def test_an_osteophyte_standing_out_below_the_epicondyle_is_not_taken_for_its_surface() -> None:
    cloud = _medial_surface(None)
    p, s = cloud[:, 1], cloud[:, 2]
    spur = (np.hypot(p - 2.0, s - 20.0) < 3.0) & (cloud[:, 0] < 0)
    cloud[spur, 0] = EPICONDYLE[0] - 4.0  # a knob 4 mm proud of the epicondyle, beside the search window

    assert medial_sulcus(cloud, EPICONDYLE, LATERAL, S0).point is None
