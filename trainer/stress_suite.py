"""The stress suite: one row per variation axis of the phantom generator, plus no-knee negatives.

The rows are the generator's own axes (:data:`kneeseg_app.core.phantom.axes.AXES`, the rows
of the phantom gallery): each case of a row pins one value of that axis, every other axis
stays neutral, so a row measures one axis at a time. Negatives are
:func:`~kneeseg_app.core.phantom.negatives.generate_negative` kinds. The suite is fixed: the
same rows and seeds give the same CT, so two models (or two engine versions) are measured on
the same images.

Seeds: axis ``i`` (in :data:`AXES` order) case ``j`` uses ``STRESS_SEED + 100 * i + j``,
negative kind ``k`` case ``j`` uses ``NEGATIVE_SEED + 100 * k + j``: 90000-96999 in all.
The project's training and test sets use seeds below 10000 (``kneeseg-train synth`` starts at
1000, the demo recipe's test cases at 5000), so the suite is never trained on.

Scale: ``full`` caps what a case does not pin, for a 2-core CPU budget: :data:`FULL_PIXELS`
pixels (unless the case pins the field of view or the matrix), :data:`FULL_COVERAGE_MM`
(unless it pins the coverage; 60 mm for 768+ pixel matrices) and :data:`FULL_SLICE_MM` slices
(unless it pins them); ``quick`` (tests) renders every case on a tiny grid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kneeseg_app.core.phantom.axes import AXES, axis_choices
from kneeseg_app.core.phantom.variation import NEGATIVE_KINDS, WideChoices

STRESS_SEED = 90000
NEGATIVE_SEED = 95000
FULL_PIXELS = 384
FULL_COVERAGE_MM = (60.0, 60.0)
FULL_SLICE_MM = 1.0
QUICK_SHAPE = (24, 96, 96)


@dataclass(frozen=True)
class StressCase:
    """One CT of the suite: a knee (``choices``) or a negative (``negative`` kind)."""

    row: str
    label: str
    seed: int
    choices: WideChoices
    negative: str = ""
    shape_zyx: tuple[int, int, int] | None = None

    @property
    def case_id(self) -> str:
        return f"{self.negative or 'knee'}-{self.seed}"


def suite_cases(
    cases_per_row: int | None = None,
    scale: str = "full",
    rows: tuple[str, ...] = tuple(AXES),
    negatives: tuple[str, ...] = NEGATIVE_KINDS,
    negatives_per_kind: int = 2,
) -> list[StressCase]:
    """The suite's cases, axis by axis (every value of the axis, or its first ``cases_per_row``),
    then ``negatives_per_kind`` of each negative kind."""
    if scale not in ("full", "quick"):
        raise ValueError(f"scale must be 'full' or 'quick', not {scale!r}")
    shape = QUICK_SHAPE if scale == "quick" else None
    out = []
    for i, (axis, values) in enumerate(AXES.items()):
        if axis not in rows:
            continue
        for j, (label, _) in enumerate(values[:cases_per_row]):
            choices = axis_choices(axis, j)
            choices = choices if scale == "quick" else _capped(choices, values[j][1])
            out.append(StressCase(axis, label, STRESS_SEED + 100 * i + j, choices, "", shape))
    for k, kind in enumerate(NEGATIVE_KINDS):
        if kind in negatives:
            choices = WideChoices() if scale == "quick" else WideChoices(pixels=256)
            out += [
                StressCase(f"no knee: {kind}", kind, NEGATIVE_SEED + 100 * k + j, choices, kind, shape)
                for j in range(negatives_per_kind)
            ]
    return out


def _capped(choices: WideChoices, pins: dict) -> WideChoices:
    """The CPU budget's grid for what the case does not pin itself."""
    caps: dict = {}
    if "pixels" not in pins and "fov_mm" not in pins:
        caps["pixels"] = FULL_PIXELS
    if "coverage_mm" not in pins:
        caps["coverage_mm"] = (30.0, 30.0) if pins.get("pixels", 0) >= 768 else FULL_COVERAGE_MM
    if "slice_mm" not in pins and "coverage_mm" not in pins:
        caps["slice_mm"] = FULL_SLICE_MM
    return replace(choices, **caps)


def rows_named(names: list[str]) -> tuple[str, ...]:
    """The axes whose names contain any of ``names`` (case-insensitive); all axes for none."""
    if not names:
        return tuple(AXES)
    wanted = [n.lower() for n in names]
    return tuple(axis for axis in AXES if any(w in axis.lower() for w in wanted))
