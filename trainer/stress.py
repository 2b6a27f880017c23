"""Stress evaluation: a model package, with the app's defaults, on the fixed stress suite.

Each case of :mod:`trainer.stress_suite` is rendered, segmented by the app's engine exactly
as ``kneeseg segment`` would (the package's defaults: speed options and post-processing),
and scored per bone (Dice, HD95, ASSD against the phantom's exact labels); for a negative,
the millilitres of bone predicted. Rows are ordered worst first (knee rows by their lowest
mean Dice, then negatives by the most bone predicted): the worst row is the number that
matters, not the mean. The outcome is a Markdown table (for the model's README) and a
summary for the manifest's ``stress`` section.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
from kneeseg_app.core.inference.postprocess import apply_postprocessing, volumes_ml
from kneeseg_app.core.metrics import compute_metrics
from kneeseg_app.core.model.package import ModelPackage
from kneeseg_app.core.model.schema import StressInfo
from kneeseg_app.core.phantom import Phantom, generate_phantom
from kneeseg_app.core.phantom.negatives import generate_negative
from kneeseg_app.core.progress import ProgressCallback, no_progress
from trainer.stress_suite import StressCase

SUITE_NAME = "kneeseg-stress-1"
README_START = "<!-- stress-suite:start -->"
README_END = "<!-- stress-suite:end -->"


@dataclass(frozen=True)
class CaseOutcome:
    """One case's scores: per bone Dice/HD95/ASSD (knees) or predicted mL (negatives)."""

    case: StressCase
    seconds: float
    dice: dict[str, float] = field(default_factory=dict)
    hd95_mm: dict[str, float] = field(default_factory=dict)
    assd_mm: dict[str, float] = field(default_factory=dict)
    predicted_ml: dict[str, float] = field(default_factory=dict)
    shape: tuple[int, int, int] = (0, 0, 0)
    largest_rule: dict[str, float] = field(default_factory=dict)
    """The same network output cleaned by the largest-component rule instead: Dice per bone
    (knees) or mL per bone (negatives), for the comparison of the two rules."""


@dataclass(frozen=True)
class RowOutcome:
    """A row's cases summarised: mean Dice, worst HD95 and ASSD per bone, or the most mL predicted."""

    name: str
    negative: bool
    cases: list[CaseOutcome]

    def _mean(self, key: str, bone: str) -> float:
        return float(np.mean([getattr(c, key)[bone] for c in self.cases]))

    def _worst(self, key: str, bone: str) -> float:
        return float(max(getattr(c, key)[bone] for c in self.cases))

    def dice(self, bone: str) -> float:
        return self._mean("dice", bone)

    def hd95(self, bone: str) -> float:
        return self._worst("hd95_mm", bone)

    def assd(self, bone: str) -> float:
        return self._worst("assd_mm", bone)

    def max_ml(self, bone: str) -> float:
        return self._worst("predicted_ml", bone)

    def largest_rule(self, bone: str) -> float:
        """Mean Dice (knees) or most mL (negatives) had the largest-component rule cleaned the output."""
        return self._worst("largest_rule", bone) if self.negative else self._mean("largest_rule", bone)

    def worst_case(self, bones: Sequence[str]) -> str:
        """The label of the row's worst case (lowest Dice of either bone; most mL for negatives)."""
        if self.negative:
            return max(self.cases, key=lambda c: max(c.predicted_ml[b] for b in bones)).case.case_id
        return min(self.cases, key=lambda c: min(c.dice[b] for b in bones)).case.label

    def badness(self, bones: Sequence[str]) -> tuple[int, float]:
        """Sort key, worst first: knee rows by the lowest mean Dice, then negatives by the most mL."""
        if self.negative:
            return (1, -max(self.max_ml(b) for b in bones))
        return (0, min(self.dice(b) for b in bones))


def render_case(case: StressCase) -> Phantom:
    """The CT and exact labels of a case (negatives: labels all zero)."""
    if case.negative:
        return generate_negative(case.negative, case.seed, case.choices, shape_zyx=case.shape_zyx)
    return generate_phantom(case.seed, variation="wide", choices=case.choices, shape_zyx=case.shape_zyx)


def run_case(segmenter: Segmenter, case: StressCase, bones: dict[int, str]) -> CaseOutcome:
    """Segment one case with the package's defaults and score it (and the largest-component rule's
    result from the same network output). ``segmenter`` runs without post-processing; the
    package's own rule is applied here exactly as the engine applies it, and timed with it. With
    ``SegmentOptions(survey=True)`` a long scan is surveyed first as the engine does then
    (core/inference/survey.py): when the survey finds no
    knee, its empty result and its time are the case's (the whole scan is still segmented, untimed,
    for the largest-component rule's comparison)."""
    phantom = render_case(case)
    started = time.perf_counter()
    surveys = segmenter.options.survey  # as the app runs it when asked: a long scan without a knee ends there
    stopped, _ = segmenter.survey_scan(phantom.ct) if surveys else (None, 0.0)
    survey_seconds = time.perf_counter() - started
    result = segmenter.run(phantom.ct)
    raw = result.labels.array
    labels = raw.copy()
    started = time.perf_counter()
    if segmenter.manifest.postprocessing.largest_component or segmenter.manifest.postprocessing.rule != "largest":
        segmenter.postprocess(labels, phantom.ct)
    seconds = result.seconds + time.perf_counter() - started
    if stopped is not None:
        labels, seconds = stopped.labels.array, stopped.seconds
    else:
        seconds += survey_seconds
    largest = raw.copy()
    post = segmenter.manifest.postprocessing
    apply_postprocessing(largest, post.largest_component or list(bones), min_fraction=post.min_fraction)
    shape = phantom.ct.shape
    if case.negative:
        ml = volumes_ml(labels, phantom.ct.spacing_zyx, bones)
        return CaseOutcome(
            case, seconds, predicted_ml=ml, shape=shape, largest_rule=volumes_ml(largest, phantom.ct.spacing_zyx, bones)
        )
    metrics = compute_metrics(labels, phantom.labels.array, phantom.ct.spacing_zyx, bones)
    other = compute_metrics(largest, phantom.labels.array, phantom.ct.spacing_zyx, bones)
    return CaseOutcome(
        case,
        seconds,
        dice={b: m.dice for b, m in metrics.items()},
        hd95_mm={b: m.hd95_mm for b, m in metrics.items()},
        assd_mm={b: m.assd_mm for b, m in metrics.items()},
        predicted_ml={b: m.volume_pred_ml for b, m in metrics.items()},
        shape=shape,
        largest_rule={b: m.dice for b, m in other.items()},
    )


def run_suite(
    package: ModelPackage,
    cases: Sequence[StressCase],
    threads: int | None = None,
    progress: ProgressCallback = no_progress,
    survey: bool = False,
) -> list[RowOutcome]:
    """Every case through the engine (package defaults), grouped into rows, worst row first."""
    segmenter = Segmenter(package, SegmentOptions(threads=threads, postprocess=False, survey=survey))
    bones = {k: v for k, v in package.label_names.items() if k != 0}
    outcomes: dict[str, list[CaseOutcome]] = {}
    for i, case in enumerate(cases):
        progress(f"{case.row} ({case.case_id})", i / max(len(cases), 1))
        outcomes.setdefault(case.row, []).append(run_case(segmenter, case, bones))
    progress("Done", 1.0)
    rows = [RowOutcome(name, bool(found[0].case.negative), found) for name, found in outcomes.items()]
    return sorted(rows, key=lambda r: r.badness(list(bones.values())))


def _num(value: float, digits: int) -> str:
    return "inf" if math.isinf(value) else f"{value:.{digits}f}"


def markdown_table(rows: Sequence[RowOutcome], bones: Sequence[str]) -> str:
    """Knee rows (worst first) then negatives: one line per row."""
    head = " | ".join(f"Dice {b}" for b in bones) + " | " + " | ".join(f"HD95 {b} mm" for b in bones)
    head += " | " + " | ".join(f"ASSD {b} mm" for b in bones) + " | Dice, largest-component rule"
    lines = [f"| axis | cases | worst case | {head} | s (max) |", "|---" * (5 + 3 * len(bones)) + "|"]
    for row in (r for r in rows if not r.negative):
        cells = [_num(row.dice(b), 3) for b in bones] + [_num(row.hd95(b), 2) for b in bones]
        cells += [_num(row.assd(b), 2) for b in bones] + [" / ".join(_num(row.largest_rule(b), 3) for b in bones)]
        seconds = max(c.seconds for c in row.cases)
        head_cells = f"| {row.name} | {len(row.cases)} | {row.worst_case(bones)} | "
        lines.append(head_cells + " | ".join(cells) + f" | {seconds:.1f} |")
    negatives = [r for r in rows if r.negative]
    if negatives:
        head = " | ".join(f"{b} mL (max)" for b in bones) + " | mL, largest-component rule"
        lines += ["", f"| no-knee case | cases | {head} | s (max) |", "|---" * (4 + len(bones)) + "|"]
        for row in negatives:
            cells = " | ".join(f"{row.max_ml(b):.1f}" for b in bones)
            other = " / ".join(f"{row.largest_rule(b):.1f}" for b in bones)
            lines.append(
                f"| {row.name} | {len(row.cases)} | {cells} | {other} | {max(c.seconds for c in row.cases):.1f} |"
            )
    return "\n".join(lines) + "\n"


def summary(rows: Sequence[RowOutcome], bones: Sequence[str], source: str) -> StressInfo:
    """The manifest's ``stress`` section: the worst row, the means and the run time spread."""
    knees = [r for r in rows if not r.negative]
    cases = [c for r in rows for c in r.cases]
    seconds = [c.seconds for c in cases]
    worst = knees[0] if knees else None
    knee_cases = [c for r in knees for c in r.cases]
    return StressInfo(
        suite=SUITE_NAME,
        cases=len(cases),
        rows=len(rows),
        worst_row=worst.name if worst else "",
        worst_dice={b: round(worst.dice(b), 4) for b in bones} if worst else {},
        mean_dice={b: round(float(np.mean([c.dice[b] for c in knee_cases])), 4) for b in bones} if knee_cases else {},
        worst_hd95_mm={b: _finite(max(r.hd95(b) for r in knees)) for b in bones} if knees else {},
        negatives_max_ml=round(max((r.max_ml(b) for r in rows if r.negative for b in bones), default=0.0), 2),
        seconds_median=round(statistics.median(seconds), 2) if seconds else None,
        seconds_worst=round(max(seconds), 2) if seconds else None,
        source=source,
    )


def _finite(value: float) -> float:
    """JSON has no infinity: a missed bone's distance is written as -1."""
    return -1.0 if math.isinf(value) else round(value, 3)


def replace_readme_section(text: str, table: str, heading: str) -> str:
    """``text`` with the stress section (between the markers) replaced, or appended when absent."""
    block = f"{README_START}\n{heading}\n\n{table}{README_END}"
    if README_START in text and README_END in text:
        before, rest = text.split(README_START, 1)
        return before + block + rest.split(README_END, 1)[1]
    return text.rstrip() + "\n\n" + block + "\n"
