"""The quality checks of the result shown in the window: what the banner, the list and the export question say.

Qt-free: the checks panel and the window only display what this decides. The checks
themselves are the core's (:mod:`kneeseg_app.core.checks`), the same the CLI prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kneeseg_app.core.checks import QualityReport, Status, check_result, summary_line
from kneeseg_app.core.checks.outcome import slice_ranges
from kneeseg_app.core.volume import Volume

SYMBOLS = {"pass": "\u2714", "warn": "\u26a0", "fail": "\u2716"}


@dataclass(frozen=True)
class CheckRow:
    """One line of the checks list."""

    status: str
    title: str
    message: str
    slices: tuple[int, ...]

    @property
    def text(self) -> str:
        where = f" (slices {slice_ranges(self.slices)})" if self.slices and self.status != "pass" else ""
        return f"{SYMBOLS[self.status]} {self.title}: {self.message}{where}"


def evaluate(ct: Volume, result: Any, label_names: dict[int, str], sides: Any | None = None) -> QualityReport:
    """Run the core's result checks on a (possibly edited) segmentation result.

    ``sides`` is the window's SideSplit of these labels when it is ready (what the bones table
    and the case panel say); without it the checks decide the sides by the same core rule.
    """
    names = {int(k): v for k, v in label_names.items() if int(k) != 0}
    return check_result(
        ct,
        result.labels,
        names,
        getattr(result, "top_probability", None),
        getattr(result, "no_knee", ""),
        sides=sides,
    )


class ResultQuality:
    """The checks of the current result, and the sentences the window shows for them."""

    def __init__(self) -> None:
        self.report: QualityReport | None = None
        self.edited = False
        """True when the checks were run on the user's edited labels."""

    def set_report(self, report: QualityReport | None, edited: bool = False) -> None:
        self.report = report
        self.edited = edited if report is not None else False

    def clear(self) -> None:
        self.set_report(None)

    @property
    def status(self) -> str:
        """'none' (no result checked), 'pass', 'warn' or 'fail'."""
        return self.report.status.value if self.report is not None else "none"

    def summary(self) -> str:
        if self.report is None:
            return "No result checked yet: segment the CT to see its quality checks."
        suffix = " (checks of the edited labels)" if self.edited else ""
        return summary_line(self.report) + suffix

    def banner_text(self) -> str:
        """The banner over the views: only for a failed result (warnings stay in the list)."""
        if self.report is None or self.report.status is not Status.FAIL:
            return ""
        failed = self.report.failed
        more = f" ({len(failed) - 1} more failed check(s) in the Checks tab)" if len(failed) > 1 else " (Checks tab)"
        return f"{SYMBOLS['fail']} Do not trust this result: {failed[0].message}{more}"

    def rows(self) -> list[CheckRow]:
        if self.report is None:
            return []
        return [CheckRow(c.status.value, c.title, c.message, c.slices) for c in self.report.checks]

    def export_question(self, what: str) -> str | None:
        """The question to ask before exporting ``what`` of a failed result (None: just export)."""
        if self.report is None or self.report.status is not Status.FAIL:
            return None
        titles = ", ".join(c.title.lower() for c in self.report.failed)
        return (
            f"This result failed {len(self.report.failed)} quality check(s) ({titles}), so it may not be a "
            f"correct femur and tibia. Export the {what} anyway?"
        )

    def flagged_slices(self) -> tuple[int, ...]:
        return self.report.flagged_slices() if self.report is not None else ()

    def flags_of_slice(self, index: int) -> list[str]:
        """Titles of the warning or failed checks that concern slice ``index`` (array axis 0)."""
        if self.report is None:
            return []
        return [c.title for c in self.report.checks if c.status is not Status.PASS and index in c.slices]
