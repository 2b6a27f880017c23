"""The stress suite: one row per variation axis of the phantom generator, plus no-knee negatives.

Every row pins one axis of :class:`~kneeseg_app.core.phantom.variation.WideChoices` to a hard
value (the other axes are drawn from the case's seed, as in training data) and holds
several cases; negatives are :func:`~kneeseg_app.core.phantom.negatives.generate_negative`
kinds. The suite is fixed: the same rows and seeds give the same CT, so two models (or two
versions of the engine) are measured on the same images.

Seeds: row ``i`` (0-based, in :data:`ROWS` order) case ``j`` uses ``STRESS_SEED + 100 * i + j``,
negative kind ``k`` case ``j`` uses ``NEGATIVE_SEED + 100 * k + j``: 90000-96999 in all.
Training and test sets of the project use seeds below 10000 (``kneeseg-train synth`` defaults
to 1000, the demo recipe's test cases to 5000), so the suite is never trained on.

Scale: ``full`` caps what a row does not pin: the in-plane size at :data:`FULL_PIXELS` (unless
the row pins the field of view) and the coverage at :data:`FULL_COVERAGE_MM` (a 2-core CPU
budget); ``quick`` (tests) renders every case on a tiny grid.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from kneeseg_app.core.phantom.variation import NEGATIVE_KINDS, WideChoices

STRESS_SEED = 90000
NEGATIVE_SEED = 95000
FULL_PIXELS = 384
FULL_COVERAGE_MM = (60.0, 60.0)
QUICK_SHAPE = (24, 96, 96)


@dataclass(frozen=True)
class Row:
    """One axis pinned to a hard value."""

    name: str
    choices: WideChoices


ROWS: tuple[Row, ...] = (
    Row("drawn (no axis pinned)", WideChoices()),
    Row("soft kernel", WideChoices(sharpness=0.05)),
    Row("sharp kernel with ringing", WideChoices(sharpness=0.95, ringing=True)),
    Row("noise 60 HU", WideChoices(noise_sd=60.0)),
    Row("calibration +60 HU, x1.1", WideChoices(hu_offset=60.0, hu_scale=1.1)),
    Row("FOV 150 mm", WideChoices(fov_mm=150.0)),
    Row("FOV 500 mm, 512 px", WideChoices(fov_mm=500.0, pixels=512)),
    Row("slices 5 mm", WideChoices(slice_mm=5.0)),
    Row("padding 0 HU outside the circle", WideChoices(padding_hu=0)),
    Row("leg cut by the FOV edge", WideChoices(off_centre=0.95)),
    Row("both legs touching", WideChoices(legs="touching")),
    Row("both legs apart", WideChoices(legs="apart")),
    Row("feet first supine", WideChoices(position="FFS")),
    Row("head first prone", WideChoices(position="HFP")),
    Row("flexion 45 deg", WideChoices(flexion_deg=45.0)),
    Row("rotation 25 deg", WideChoices(rotation_deg=25.0)),
    Row("distal femur and proximal tibia only (60 mm)", WideChoices(coverage_mm=(30.0, 30.0))),
    Row("hip to ankle (1200 mm, 5 mm slices)", WideChoices(coverage_mm=(600.0, 600.0), slice_mm=5.0, pixels=384)),
    Row("no table", WideChoices(table="none")),
    Row("mattress and positioning aids", WideChoices(table="mattress", aids=("wedge", "gel", "strap"))),
    Row("knee prosthesis, same leg", WideChoices(implant="tkr", implant_same_leg=True)),
    Row("plate and screws, other leg", WideChoices(implant="plate", implant_same_leg=False, legs="apart")),
    Row("nail", WideChoices(implant="nail", implant_same_leg=True)),
    Row("contrast and calcified arteries", WideChoices(contrast=True, calcification=True)),
    Row("thin", WideChoices(habitus=0.0)),
    Row("obese", WideChoices(habitus=1.0)),
    Row("osteoporotic", WideChoices(bone_quality=-1.0)),
    Row("sclerotic", WideChoices(bone_quality=1.0)),
    Row("osteoarthritis grade 4, varus 10 deg", WideChoices(oa_grade=4, varus_deg=10.0)),
    Row("fabella", WideChoices(fabella=True)),
)


@dataclass(frozen=True)
class StressCase:
    """One CT of the suite: a knee (``choices``) or a negative (``negative`` kind)."""

    row: str
    seed: int
    choices: WideChoices
    negative: str = ""
    shape_zyx: tuple[int, int, int] | None = None

    @property
    def case_id(self) -> str:
        return f"{self.negative or 'knee'}-{self.seed}"


def suite_cases(
    cases_per_row: int = 2,
    scale: str = "full",
    rows: tuple[Row, ...] = ROWS,
    negatives: tuple[str, ...] = NEGATIVE_KINDS,
) -> list[StressCase]:
    """The suite's cases, row by row, then the negatives (``cases_per_row`` of each kind)."""
    if scale not in ("full", "quick"):
        raise ValueError(f"scale must be 'full' or 'quick', not {scale!r}")
    shape = QUICK_SHAPE if scale == "quick" else None
    out = []
    for i, row in enumerate(ROWS):
        if row not in rows:
            continue
        choices = row.choices if scale == "quick" else _capped(row.choices)
        out += [StressCase(row.name, STRESS_SEED + 100 * i + j, choices, "", shape) for j in range(cases_per_row)]
    for k, kind in enumerate(NEGATIVE_KINDS):
        if kind in negatives:
            choices = WideChoices() if scale == "quick" else WideChoices(pixels=min(FULL_PIXELS, 256))
            out += [
                StressCase(f"no knee: {kind}", NEGATIVE_SEED + 100 * k + j, choices, kind, shape)
                for j in range(cases_per_row)
            ]
    return out


def _capped(choices: WideChoices) -> WideChoices:
    """The CPU budget's grid (:data:`FULL_PIXELS`, :data:`FULL_COVERAGE_MM`) for what the row does not pin."""
    caps = {}
    if choices.pixels is None and choices.fov_mm is None:
        caps["pixels"] = FULL_PIXELS
    if choices.coverage_mm is None:
        caps["coverage_mm"] = FULL_COVERAGE_MM
    return replace(choices, **caps)


def rows_named(names: list[str]) -> tuple[Row, ...]:
    """The rows whose names contain any of ``names`` (case-insensitive); all rows for none."""
    if not names:
        return ROWS
    wanted = [n.lower() for n in names]
    return tuple(r for r in ROWS if any(w in r.name.lower() for w in wanted))
