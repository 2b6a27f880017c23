"""The vocabulary of every check: a status, one sentence for a surgeon, the slices it concerns.

Input checks refuse (they raise); result checks never raise: a segmentation that
looks wrong is still shown, with the reasons why it should not be trusted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Outcome of one check; ordered pass < warn < fail."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        return {"pass": 0, "warn": 1, "fail": 2}[self.value]


@dataclass(frozen=True)
class CheckResult:
    """One quality check of one result.

    ``slices`` are 0-based indices along the volume's slice axis (array axis 0), so the
    window can jump to them (messages name them counted from 1, see :func:`slice_ranges`);
    ``details`` holds the measured numbers for the JSON report.
    """

    check_id: str
    title: str
    status: Status
    message: str
    slices: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.check_id,
            "title": self.title,
            "status": self.status.value,
            "message": self.message,
            "slices": list(self.slices),
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class QualityReport:
    """All result checks of one segmentation, in a fixed order."""

    checks: tuple[CheckResult, ...]
    seconds: float = 0.0

    @property
    def status(self) -> Status:
        """The worst status of any check (pass when there are none)."""
        return max((c.status for c in self.checks), key=lambda s: s.rank, default=Status.PASS)

    @property
    def failed(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status is Status.FAIL)

    @property
    def warned(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if c.status is Status.WARN)

    def get(self, check_id: str) -> CheckResult | None:
        return next((c for c in self.checks if c.check_id == check_id), None)

    def flagged_slices(self) -> tuple[int, ...]:
        """Every slice a warning or failure concerns, sorted, once each."""
        return tuple(sorted({s for c in self.checks if c.status is not Status.PASS for s in c.slices}))

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "seconds": round(self.seconds, 4),
            "checks": [c.as_dict() for c in self.checks],
        }


def worst(statuses: Iterable[Status]) -> Status:
    """The worst of several statuses (pass for none)."""
    return max(statuses, key=lambda s: s.rank, default=Status.PASS)


def slice_ranges(slices: Iterable[int]) -> str:
    """'13-16, 41' for a person reading a message: slice *numbers*, counted from 1 as the window
    shows them, for 0-based slice indices (the ``slices`` of a check stay 0-based)."""
    values = sorted(set(int(s) + 1 for s in slices))
    parts: list[str] = []
    start = prev = None
    for v in values:
        if start is None:
            start = prev = v
        elif v == prev + 1:  # type: ignore[operator]
            prev = v
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = v
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)
