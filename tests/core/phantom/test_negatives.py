"""CT without a knee: every kind renders, through the same scanner model, with all-zero labels."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.phantom.negatives import generate_negative
from kneeseg_app.core.phantom.variation import NEGATIVE_KINDS

GRID = dict(shape_zyx=(12, 96, 96), spacing_zyx=(5.0, 2.5, 2.5))


@pytest.mark.parametrize("kind", NEGATIVE_KINDS)
def test_every_negative_has_no_labels_and_looks_like_ct(kind: str) -> None:
    phantom = generate_negative(kind, 31, with_tissues=True, **GRID)
    ct, labels, tissues = phantom.ct, phantom.labels, phantom.tissues.array
    assert ct.shape == GRID["shape_zyx"] and labels.same_grid(ct) and ct.array.dtype == np.int16
    assert not labels.array.any()
    inside = ct.array[:, 40:56, 40:56]
    assert inside.min() > -3100 and ct.array.max() < 9000
    if kind in ("thigh", "calf", "hip", "ankle", "arm", "torso", "head", "chest"):
        assert ((tissues >= 10) & (tissues < 60)).sum() > 20, "a bone is in view"
        assert np.percentile(ct.array, 99.9) > 400
    if kind == "air":
        assert set(np.unique(tissues)) == {0}
    if kind == "table":
        assert (tissues == 1).any()


def test_leg_part_negatives_can_keep_their_bone_labels() -> None:
    exact = generate_negative("thigh", 5, exact_labels=True, **GRID)
    zeroed = generate_negative("thigh", 5, **GRID)
    assert (exact.labels.array == 1).sum() > 50 and not (exact.labels.array == 2).any(), (
        "a thigh shows femur, never tibia"
    )
    assert np.array_equal(exact.ct.array, zeroed.ct.array) and not zeroed.labels.array.any()


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="negative kind"):
        generate_negative("brain", 1, **GRID)
