"""A piece of bone that holds both legs (two femurs joined through a pelvis labelled femur) is cut at the
sagittal plane between them; the bones of one leg never are."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from kneeseg_app.core.inference.two_legs import leg_midline_mm, split_across_legs
from kneeseg_app.core.volume import Volume

SPACING = (3.0, 2.0, 2.0)
SHAPE = (40, 60, 120)  # 120 mm along the leg, 240 mm left to right; z 0 is inferior


def _rod(x: int, radius: float, z: slice = slice(None)) -> np.ndarray:
    """A bone along the body axis around column ``x`` (row 30), ``radius`` pixels."""
    _, yy, xx = np.indices(SHAPE)
    out = ((yy - 30) ** 2 + (xx - x) ** 2) <= radius**2
    keep = np.zeros(SHAPE, dtype=bool)
    keep[z] = True
    return out & keep


def _pelvis(x0: int, x1: int) -> np.ndarray:
    """A bar of bone across the top slices from column ``x0`` to ``x1`` (pubic bones labelled femur)."""
    out = np.zeros(SHAPE, dtype=bool)
    out[34:38, 24:36, x0 : x1 + 1] = True
    return out


def _ct(direction: np.ndarray | None = None) -> Volume:
    return Volume(np.zeros(SHAPE, dtype=np.int16), SPACING, direction=np.eye(3) if direction is None else direction)


def _split(mask: np.ndarray, ct: Volume) -> tuple[np.ndarray, int]:
    pieces, count = ndimage.label(mask, structure=np.ones((3, 3, 3), dtype=bool))
    count = split_across_legs(pieces, count, ct, tuple(slice(0, n) for n in SHAPE))
    return pieces, count


def test_two_femurs_joined_through_the_pelvis_become_one_piece_per_leg() -> None:
    right, left = _rod(25, 8), _rod(95, 8)
    pieces, count = _split(right | left | _pelvis(25, 95), _ct())
    assert count == 2
    assert len(np.unique(pieces[right])) == 1 and len(np.unique(pieces[left])) == 1
    assert pieces[right][0] != pieces[left][0]
    # the cut is the sagittal plane midway between the shafts (column 60): each half of the bar goes with its leg
    assert set(np.unique(pieces[35, 30, 25:60])) == {pieces[right][0]}
    assert set(np.unique(pieces[35, 30, 61:96])) == {pieces[left][0]}


def test_the_cut_follows_patient_left_and_right_whatever_the_array_order() -> None:
    """Columns running toward the patient's right (a flipped x axis) give the same cut."""
    right, left = _rod(25, 8), _rod(95, 8)
    mirrored = _ct(np.diag([-1.0, 1.0, 1.0]))
    pieces, count = _split(right | left | _pelvis(25, 95), mirrored)
    assert count == 2 and pieces[right][0] != pieces[left][0]


def test_the_superior_axis_may_be_any_array_axis() -> None:
    right, left = _rod(25, 8), _rod(95, 8)
    mask = np.moveaxis(right | left | _pelvis(25, 95), 0, 1)  # (y, z, x): the body axis is array axis 1
    direction = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])  # columns of x, y, z index axes
    ct = Volume(np.zeros(mask.shape, dtype=np.int16), (2.0, 3.0, 2.0), direction=direction)
    pieces, count = ndimage.label(mask, structure=np.ones((3, 3, 3), dtype=bool))
    count = split_across_legs(pieces, count, ct, tuple(slice(0, n) for n in mask.shape))
    assert count == 2


def test_a_tibia_and_its_fibula_are_one_legs_bones() -> None:
    """The fibula lies beside the tibia (here 56 mm away, more than the 45 mm between two legs' bones) and
    joins it at its head, but it is far smaller: no midline between legs."""
    head = np.zeros(SHAPE, dtype=bool)
    head[34:38, 28:33, 40:69] = True
    assert leg_midline_mm(_rod(40, 12) | _rod(68, 4) | head, np.zeros(3), _ct()) is None


def test_two_bones_closer_than_two_legs_are_left_together() -> None:
    near = _rod(40, 8) | _rod(60, 8) | _pelvis(40, 60)  # 40 mm apart
    assert leg_midline_mm(near, np.zeros(3), _ct()) is None


def test_two_legs_seen_over_less_than_20_mm_are_not_cut() -> None:
    """Two bones side by side in two slices (6 mm): a plate or a cast, not two legs' bones."""
    short = _rod(25, 8, slice(30, 32)) | _rod(95, 8, slice(30, 32))
    assert leg_midline_mm(short, np.zeros(3), _ct()) is None
    assert leg_midline_mm(_rod(25, 8, slice(20, 28)) | _rod(95, 8, slice(20, 28)), np.zeros(3), _ct()) is not None


def test_a_femur_with_pelvis_labelled_femur_beside_its_head_is_not_cut() -> None:
    """A single leg's hip: pelvis labelled femur beside the femoral head, as large as the head in its slices
    and far from it (the piece 154 mm wide), over 30 mm of the body axis; but the femur below makes the
    piece one leg's bone, far larger than what lies beside it."""
    femur = _rod(20, 8)
    ischium = _rod(80, 8, slice(28, 38))
    bridge = np.zeros(SHAPE, dtype=bool)
    bridge[36:38, 28:33, 20:81] = True
    assert leg_midline_mm(femur | ischium | bridge, np.zeros(3), _ct()) is not None  # two bones, in its slices
    pieces, count = _split(femur | ischium | bridge, _ct())
    assert count == 1


@pytest.mark.parametrize("x", [30, 90])
def test_one_leg_is_left_alone(x: int) -> None:
    pieces, count = _split(_rod(x, 12), _ct())
    assert count == 1
