"""The truth's sizes at the bone's exact surface, not at its 0.5 mm sampling.

The truth samples each bone's field every 0.5 mm (:mod:`phantom.truth`), so an extent's end
lies up to a quarter of a millimetre beyond or before the surface, and the extreme of many such
points is biased outward. Planning now measures sizes to a few hundredths of a millimetre from
the CT (:mod:`kneeseg_app.core.planning.ct_edges`), so the truth's ends are moved, on the same
lines along the measuring direction, to where the field itself crosses zero.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from kneeseg_app.core.anatomy.extent import Extent, furthest_end

STEP_MM = 0.02
OFFSETS_MM = np.arange(-1.5, 1.5 + STEP_MM / 2, STEP_MM)
"""Search along each line around the sampled end (sampled ends are within 0.4 mm of the surface)."""

Field = Callable[[np.ndarray], np.ndarray]
"""A bone's field at (n, 3) LPS points: negative inside."""


def zero_crossings(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of field values at :data:`OFFSETS_MM`: the offset of the last inside-to-outside
    crossing (linear between samples) and whether the row has one."""
    inside = values < 0
    exits = inside[:, :-1] & ~inside[:, 1:]
    found = exits.any(axis=1)
    last = len(OFFSETS_MM) - 2 - np.argmax(exits[:, ::-1], axis=1)
    rows = np.arange(len(values))
    before, after = values[rows, last], values[rows, last + 1]
    edge = OFFSETS_MM[last] + STEP_MM * (-before) / np.maximum(after - before, 1e-12)
    return edge, found


def exact_end(field: Field, points: np.ndarray, outward: np.ndarray) -> float:
    """An end's position along ``outward`` at the field's zero level (the sampled point on a line that does not cross it)."""
    lps = points[:, None, :] + OFFSETS_MM[None, :, None] * outward[None, None, :]
    values = field(lps.reshape(-1, 3)).reshape(len(points), len(OFFSETS_MM))
    edge, found = zero_crossings(values)
    return furthest_end(points, outward, np.where(found, edge, 0.0))


def exact_sizes(extents: dict[str, Extent], field: Field) -> dict[str, float]:
    """Every size with both ends at the field's zero level."""
    out = {}
    for name, extent in extents.items():
        d = extent.direction
        out[name] = exact_end(field, extent.low, -d) + exact_end(field, extent.high, d)
    return out
