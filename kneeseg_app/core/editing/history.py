"""Undo / redo stacks of compact label diffs with a step limit.

The limit counts steps (what a user thinks in: "undo my last 50 strokes"); the bytes
held are reported so the window (and the benchmark) can show what undo costs.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from kneeseg_app.core.editing.diff import LabelDiff

DEFAULT_UNDO_STEPS = 50


@dataclass(frozen=True)
class EditStep:
    """One user action (a stroke, a fill, an island removal) and its diff."""

    name: str
    diff: LabelDiff


class History:
    """Undo and redo stacks; a new step clears redo, the oldest step falls off at the limit."""

    def __init__(self, max_steps: int = DEFAULT_UNDO_STEPS) -> None:
        if max_steps < 1:
            raise ValueError("the undo history needs at least one step")
        self.max_steps = int(max_steps)
        self._undo: deque[EditStep] = deque()
        self._redo: list[EditStep] = []

    def push(self, step: EditStep) -> None:
        self._undo.append(step)
        self._redo.clear()
        while len(self._undo) > self.max_steps:
            self._undo.popleft()

    def pop_undo(self) -> EditStep | None:
        """The step to undo (moved onto the redo stack), None when there is none."""
        if not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(step)
        return step

    def pop_redo(self) -> EditStep | None:
        """The step to redo (moved back onto the undo stack), None when there is none."""
        if not self._redo:
            return None
        step = self._redo.pop()
        self._undo.append(step)
        return step

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()

    @property
    def undo_count(self) -> int:
        return len(self._undo)

    @property
    def redo_count(self) -> int:
        return len(self._redo)

    @property
    def undo_name(self) -> str:
        return self._undo[-1].name if self._undo else ""

    @property
    def redo_name(self) -> str:
        return self._redo[-1].name if self._redo else ""

    @property
    def nbytes(self) -> int:
        """Bytes held by all undo and redo steps."""
        return sum(step.diff.nbytes for step in (*self._undo, *self._redo))
