"""The one-line hint that tells a new user what to do next. Qt-free.

On the first start the demo case opens with its reference outlines and reference bones
in 3D, which look like a result; without a word the user does not know that the model
has not run yet. The hint names the next step until the first result arrives.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CaseProgress:
    has_ct: bool = False
    has_model: bool = False
    has_result: bool = False
    has_reference: bool = False
    running: bool = False


def next_step(progress: CaseProgress) -> str:
    """The hint for the run panel and the status bar ('' when the user needs none)."""
    if progress.running or progress.has_result:
        return ""
    if not progress.has_ct:
        return "Next: open a CT (File > Open DICOM folder, or drop a folder on the window)."
    if not progress.has_model:
        return "Next: choose a model in the Model box."
    shown = " The outlines and 3D bones shown now are the reference, not a result." if progress.has_reference else ""
    return f"Next: press Segment.{shown}"
