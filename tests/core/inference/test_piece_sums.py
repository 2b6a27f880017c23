"""Per-piece sums of voxel indices, for centres: exactly the weighted bincount they replace."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from kneeseg_app.core.inference import piece_sums
from kneeseg_app.core.inference.piece_sums import index_sums


def _pieces(seed: int) -> tuple[np.ndarray, int]:
    rng = np.random.default_rng(seed)
    smooth = ndimage.gaussian_filter(rng.random((23, 41, 37)), 2)
    return ndimage.label(smooth > np.quantile(smooth, 0.7))


@pytest.mark.parametrize("histogram", [True, False])
def test_index_sums_are_the_weighted_bincounts_of_the_coordinates(
    histogram: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both ways (the histogram of (index, piece) pairs, and the weighted bincount it falls back to when
    there are too many pairs) give the integers ``np.bincount(ids, weights=coordinate)`` gives."""
    if not histogram:
        monkeypatch.setattr(piece_sums, "MAX_BINS", 0)
    pieces, count = _pieces(3)
    assert count > 3
    where = np.flatnonzero(pieces)
    ids = pieces.ravel()[where]
    expected = np.stack(
        [np.bincount(ids, weights=c, minlength=count + 1) for c in np.unravel_index(where, pieces.shape)], axis=1
    )
    got = index_sums(where, ids, pieces.shape, count)
    assert got.shape == (count + 1, 3)
    np.testing.assert_array_equal(got, expected)
    centres = ndimage.center_of_mass(pieces > 0, pieces, range(1, count + 1))
    sizes = np.bincount(ids)[1:]
    np.testing.assert_allclose(got[1:] / sizes[:, None], np.array(centres), rtol=1e-12)
