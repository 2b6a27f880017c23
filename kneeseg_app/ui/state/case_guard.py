"""Leaving a case safely: what to ask before another case, a dropped folder or quitting replaces it.

A reviewed and corrected segmentation is hours of a surgeon's or engineer's work; it
must never be thrown away, and a running segmentation never stopped, without asking.
The decision is made here, Qt-free (the window only supplies the questions' answers
through its DialogService and the "save" step), so it is tested without widgets.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Answer(Enum):
    """The three answers to "save the result before leaving?"."""

    SAVE = "save"
    DISCARD = "discard"
    CANCEL = "cancel"


@dataclass(frozen=True)
class CaseState:
    """What the current case holds that leaving it could lose."""

    unsaved: bool = False
    """A result (the model's or edited) not saved since it last changed."""
    edited: bool = False
    segmenting: bool = False
    """A segmentation of this case is running."""


def stop_question(action: str) -> str:
    return f"A segmentation of this case is still running. Stop it and {action}?"


def save_question(state: CaseState, action: str) -> str:
    what = "edited segmentation" if state.edited else "segmentation"
    return (
        f"The {what} of this case is not saved. Save it as a session (File > Save session) before you {action}? "
        "Discard loses it."
    )


@dataclass
class LeaveGuard:
    """Asks before a case is left; ``may_leave`` is True when leaving may go on.

    ``confirm(title, text)`` is a yes/no question, ``ask_save(title, text)`` answers with
    an :class:`Answer`, ``save()`` saves a session and is True when it was saved (False:
    the user cancelled the file dialog or the write failed, so the case stays).
    """

    confirm: Callable[[str, str], bool]
    ask_save: Callable[[str, str], Answer]
    save: Callable[[], bool]

    def may_leave(self, state: CaseState, action: str) -> bool:
        """Ask what ``state`` needs; ``action`` completes "... before you <action>" ("open another case")."""
        if state.segmenting and not self.confirm("Stop the segmentation?", stop_question(action)):
            return False
        if not state.unsaved:
            return True
        answer = self.ask_save("Save the segmentation?", save_question(state, action))
        if answer is Answer.SAVE:
            return self.save()
        return answer is Answer.DISCARD
