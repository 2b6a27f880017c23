"""The plan shown in the window: which knee, its landmarks, and hand corrections (no widgets).

Slice views draw the landmarks from here and hand drags back as LPS points; the
measurement table redraws on ``changed``. Geometry between LPS millimetres and a view's
plane lives in :func:`lps_to_display` / :func:`display_to_lps` so it is tested without Qt
widgets.
"""

from __future__ import annotations

import copy

import numpy as np
from PySide6.QtCore import QObject, Signal

from kneeseg_app.core.planning import KneePlan, Plan
from kneeseg_app.core.planning.edit import move_landmark
from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.state.display_geometry import DisplayGeometry


def lps_to_display(volume: Volume, geometry: DisplayGeometry, lps: np.ndarray) -> np.ndarray:
    """Continuous display index (S, P, L order of the viewer) of an LPS point."""
    array_index = volume.lps_to_index(np.asarray(lps, dtype=np.float64))
    out = np.empty(3)
    for d in range(3):
        a = geometry.perm[d]
        out[d] = geometry.array_shape[a] - 1 - array_index[a] if geometry.flip[d] else array_index[a]
    return out


def display_to_lps(volume: Volume, geometry: DisplayGeometry, display: np.ndarray) -> np.ndarray:
    """LPS point of a continuous display index (inverse of :func:`lps_to_display`)."""
    array_index = np.empty(3)
    for d in range(3):
        a = geometry.perm[d]
        array_index[a] = geometry.array_shape[a] - 1 - display[d] if geometry.flip[d] else display[d]
    return volume.index_to_lps(array_index)


class PlanningState(QObject):
    """A working copy of a plan; ``changed(side)`` after a landmark is moved or the plan replaced."""

    changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.plan: Plan | None = None

    def set_plan(self, plan: Plan | None) -> None:
        """Show ``plan`` (a copy: hand corrections never alter the computed plan)."""
        self.plan = copy.deepcopy(plan)
        self.changed.emit(None)

    def knee(self, side: str | None) -> KneePlan | None:
        if self.plan is None:
            return None
        return next((k for k in self.plan.knees if k.side == side), None)

    def landmarks(self) -> list[tuple[str | None, str, str, np.ndarray]]:
        """Every found landmark: (side, bone, name, LPS point)."""
        out = []
        for knee in self.plan.knees if self.plan is not None else []:
            for bone_name, bone in knee.bones.items():
                for f in bone.findings.values():
                    if f.kind == "landmark" and f.point is not None:
                        out.append((knee.side, bone_name, f.name, np.asarray(f.point)))
        return out

    def move(self, side: str | None, name: str, point_lps: np.ndarray) -> dict[str, float | None]:
        """Set a landmark by hand; derived lines and angles follow (see core.planning.edit)."""
        knee = self.knee(side)
        if knee is None:
            return {}
        angles = move_landmark(knee, name, point_lps)
        self.changed.emit(side)
        return angles
