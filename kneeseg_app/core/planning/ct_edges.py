"""Sizes below the voxel: each end of a size moved to the bone's edge in the CT itself.

A size measured on a label map (:mod:`kneeseg_app.core.anatomy.extent`) carries up to about a
voxel of quantisation (a voxel is bone or not; the CT's partial volume says how much of it is).
As a measuring tool does, the
edge is placed where the HU profile along the measuring direction falls half-way from the
cortical bone's peak to the soft tissue beyond (the classic half-maximum edge; exact for a
symmetric blur of a step), on lines through the label's surface points near each end; the
end is the furthest such edge. The half-maximum is only unbiased where the scan resolves the
cortex: a cortex thinner than the blur peaks low and its half-maximum lies outside the bone, so a
peak must reach 85% of the bone's own cortical HU (the shaft's). A line whose profile gives no
clear edge (such a thin cortex, metal, another bone or air within a few mm, too little contrast,
the image's border, an edge far from the label) keeps
its label point; when most of an end's lines do, the whole end is the label's, and the note
says why (the size is then one confidence step less sure). The edge of one line is good to a
few hundredths of a millimetre; the furthest of some hundred lines is pushed out by the
noise, about 0.04 mm per end at 20 HU (profiles averaged across the line would blur the
thin osteophyte tips that set the extremes instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kneeseg_app.core.anatomy.extent import Extent, furthest_end
from kneeseg_app.core.inference.densities import METAL_HU
from kneeseg_app.core.volume import Volume

STEP_MM = 0.1
OFFSETS_MM = np.arange(-3.0, 4.0 + STEP_MM / 2, STEP_MM)
"""Profile samples along the outward direction, from inside the label's end (-) to outside (+)."""
PEAK_UP_TO_MM = 1.0
"""The cortical peak is sought inward of this (the edge lies within about a voxel of the label's)."""
SOFT_FROM_MM, SOFT_TO_MM = 1.5, 2.5
"""The profile's median here is the soft tissue next to the bone (close: fat, skin or air lie further out)."""
SOFT_MAX_HU = 300.0
"""Beyond the edge denser than this: not soft tissue but another bone (or an osteophyte the labels left out)."""
AIR_HU = -400.0
"""Soft tissue lower than this is air: the bone at the skin or the image's padding."""
MIN_CONTRAST_HU = 400.0
MAX_SHIFT_MM = 1.0
"""An edge further than this from the label's surface disagrees with the label: not trusted."""
RESOLVED_SHARE = 0.85
"""A cortex whose peak stays under this share of the bone's own cortical HU is thinner than the scan's
blur: its half-maximum lies outside the bone (0.2-0.4 mm on 0.5-0.9 mm Gaussian blur), so it is not used."""
CORTICAL_PERCENTILE = 99.0
"""The bone's cortical HU: this percentile of the CT inside its label (the shaft's thick cortex)."""
MIN_CLEAR_SHARE = 0.5
"""At least this share of an end's lines must show a clear edge, else the end is the label's."""

CLEAR = 0
REASONS = {
    1: "the profile leaves the image",
    2: "metal (over 2800 HU)",
    3: "too little bone to soft-tissue contrast",
    4: "another bone within 4 mm",
    5: "the CT edge lies over 1 mm from the label's",
    6: "air within 2.5 mm",
    7: "cortex thinner than the scan's blur (peak under 85% of the bone's cortical HU)",
}


@dataclass(frozen=True)
class EndFromCT:
    """One end of a size: its position along the outward direction (mm) and how it was found."""

    position_mm: float
    shift_mm: float
    """How far the CT moved it from the label's end (+ = outward)."""
    lines: int
    unclear: int
    """Lines without a clear edge (they keep their label point)."""
    why: str
    """The commonest reason of the unclear lines ('' when all are clear)."""

    @property
    def from_ct(self) -> bool:
        return self.unclear < MIN_CLEAR_SHARE * self.lines

    def describe(self, name: str) -> str:
        if not self.from_ct:
            return f"{name} end the label's ({why_text(self)})"
        text = f"{name} end {self.shift_mm:+.2f} mm from the label's"
        return text + (f" ({self.unclear} of {self.lines} lines at the label: {self.why})" if self.unclear else "")


def why_text(end: EndFromCT) -> str:
    return f"{end.unclear} of {end.lines} lines: {end.why}" if end.lines else "no surface points"


@dataclass(frozen=True)
class SizeFromCT:
    """A size, the label extent it started from, how its ends were found and whether both came from the CT."""

    value_mm: float
    label_mm: float
    note: str
    clear: bool


def ct_profiles(ct: Volume, points: np.ndarray, outward: np.ndarray) -> np.ndarray:
    """HU along ``outward`` through each point (rows) at :data:`OFFSETS_MM`, trilinear; NaN off the image."""
    lps = points[:, None, :] + OFFSETS_MM[None, :, None] * outward[None, None, :]
    index = ct.lps_to_index(lps.reshape(-1, 3)).T
    values = ndimage.map_coordinates(ct.array, index, output=np.float64, order=1, mode="constant", cval=np.nan)
    return values.reshape(len(points), len(OFFSETS_MM))


def cortical_hu(ct: Volume, inside: np.ndarray, count: int = 20000) -> float:
    """The bone's cortical HU: :data:`CORTICAL_PERCENTILE` of the CT at (up to ``count``) of its inside points (LPS)."""
    step = max(1, len(inside) // count)
    index = np.round(ct.lps_to_index(inside[::step])).astype(np.int64)
    index = index[np.all((index >= 0) & (index < np.asarray(ct.shape)), axis=1)]
    values = ct.array[index[:, 0], index[:, 1], index[:, 2]]
    return float(np.percentile(values, CORTICAL_PERCENTILE)) if len(values) else np.inf


def half_maximum_edges(profiles: np.ndarray, cortical: float = -np.inf) -> tuple[np.ndarray, np.ndarray]:
    """Per profile: the offset (mm) where HU first falls below half-way between the cortical peak
    and the soft tissue beyond, and a reason code (:data:`CLEAR` or a key of :data:`REASONS`);
    ``cortical``: the bone's cortical HU, against which a peak must show a resolved cortex."""
    rows = np.arange(len(profiles))
    safe = np.nan_to_num(profiles, nan=-np.inf)
    peak = np.argmax(np.where(OFFSETS_MM <= PEAK_UP_TO_MM, safe, -np.inf), axis=1)
    bone = profiles[rows, peak]
    window = profiles[:, (OFFSETS_MM >= SOFT_FROM_MM) & (OFFSETS_MM <= SOFT_TO_MM)]
    soft = np.median(window, axis=1)
    half = 0.5 * (bone + soft)
    samples = np.arange(len(OFFSETS_MM))
    below = (profiles < half[:, None]) & (samples > peak[:, None])
    first = np.maximum(np.argmax(below, axis=1), 1)
    before, after = profiles[rows, first - 1], profiles[rows, first]
    edge = OFFSETS_MM[first - 1] + STEP_MM * (before - half) / np.maximum(before - after, 1e-9)
    rises_again = np.any((safe >= half[:, None]) & (samples > first[:, None]), axis=1)
    crowded = rises_again | ~below.any(axis=1) | (soft > SOFT_MAX_HU)
    reason = np.full(len(profiles), CLEAR)
    reason[np.abs(edge) > MAX_SHIFT_MM] = 5
    reason[crowded] = 4
    reason[(bone - soft < RESOLVED_SHARE * (cortical - soft)) & ~crowded] = 7
    reason[(bone - soft < MIN_CONTRAST_HU) & ~crowded] = 3
    reason[np.min(window, axis=1) < AIR_HU] = 6
    reason[bone > METAL_HU] = 2
    reason[np.isnan(profiles).any(axis=1)] = 1
    return edge, reason


def end_from_ct(ct: Volume, points: np.ndarray, outward: np.ndarray, cortical: float = -np.inf) -> EndFromCT:
    """An end moved to the furthest clear CT edge on lines through its label points; the label's
    end when most lines show no clear edge."""
    label = furthest_end(points, outward, np.zeros(len(points)))
    if len(points) == 0:
        return EndFromCT(label, 0.0, 0, 0, "")
    edge, reason = half_maximum_edges(ct_profiles(ct, points, outward), cortical)
    clear = reason == CLEAR
    codes, counts = np.unique(reason[~clear], return_counts=True)
    why = REASONS[int(codes[np.argmax(counts)])] if len(codes) else ""
    end = EndFromCT(label, 0.0, len(points), int((~clear).sum()), why)
    if not end.from_ct:
        return end
    position = furthest_end(points, outward, np.where(clear, edge, 0.0))
    return EndFromCT(position, position - label, end.lines, end.unclear, why)


def size_from_ct(extent: Extent, ct: Volume, cortical: float = -np.inf) -> SizeFromCT:
    """One size with both ends refined in the CT where it shows a clear edge (the label's end elsewhere)."""
    d = extent.direction
    ends = [end_from_ct(ct, extent.low, -d, cortical), end_from_ct(ct, extent.high, d, cortical)]
    clear = all(end.from_ct for end in ends)
    how = "both ends at the CT's half-maximum edge" if clear else "an end at the label's: no clear edge in the CT"
    parts = "; ".join(end.describe(name) for end, name in zip(ends, extent.end_names))
    note = f"{how}: {parts}; label extent {extent.length_mm:.2f} mm"
    return SizeFromCT(ends[0].position_mm + ends[1].position_mm, extent.length_mm, note, clear)


def sizes_from_ct(extents: dict[str, Extent], ct: Volume | None, cortical: float = -np.inf) -> dict[str, SizeFromCT]:
    """Every size of a bone, refined in ``ct`` (``cortical``: the bone's cortical HU,
    :func:`cortical_hu`); without a CT the label extents, said so."""
    if ct is None:
        note = "label extent (no CT given: up to about a voxel of quantisation)"
        return {name: SizeFromCT(e.length_mm, e.length_mm, note, True) for name, e in extents.items()}
    return {name: size_from_ct(extent, ct, cortical) for name, extent in extents.items()}
