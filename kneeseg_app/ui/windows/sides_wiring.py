"""Puts left and right into the main window: the bones table, the side markers, the 3D surfaces per side.

Kept out of ``main_window`` (which only builds and wires). Each result (and each edited
result, once the user pauses) is split per side in the background by the core's one rule
(:func:`kneeseg_app.core.sides.split_sides`, the CLI's too); the split fills the Segment
tab's bones table, the marker in each slice view ('Right knee') and the 3D legend, and the
3D view gets one surface per bone and side ('left femur' lighter than 'right femur').
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QGroupBox, QLabel, QScrollArea, QVBoxLayout

from kneeseg_app.ui.controllers.workers import Task
from kneeseg_app.ui.state.part_colors import hex_color
from kneeseg_app.ui.widgets.bones_table import BonesTable

RESPLIT_DELAY_MS = 700
"""An edited result is split again this long after the last edit."""
MARKER_STYLE = "color: #ffe680; background: rgba(0, 0, 0, 140); font-weight: bold; font-size: 12px; padding: 1px 4px;"


def split_labels(labels: Any, names: dict[int, str], ct: Any) -> Any:
    """The core's per-side split (imported lazily: the window opens before scipy is needed)."""
    from kneeseg_app.core.sides import split_sides

    return split_sides(labels, names, ct=ct if ct is not None and ct.same_grid(labels) else None)


def marker_text(split: Any | None) -> str:
    """What each slice view's corner says: 'Right knee', 'Right and left knees', 'Knee: side unknown'."""
    if split is None or split.knees == 0:
        return ""
    if split.knees == 2:
        return "Right and left knees"
    return f"{split.side.capitalize()} knee" if split.side else "Knee: side unknown"


class SidesWiring:
    """Creates the bones table, markers and 3D legend of ``window`` and keeps them to the current result."""

    def __init__(self, window: Any) -> None:
        self.w = window
        self.split: Any = None
        """The SideSplit of the current result (None while there is none or it is being computed)."""
        self._cache: tuple[Any, Any] | None = None  # (labels object, its split)
        self._task: Task | None = None
        self._wanted: Any = None  # the labels the running task splits
        self._surfaces_for: Any = None  # labels whose surfaces should follow their split
        self.table = BonesTable()
        box = QGroupBox("Bones")
        box.setObjectName("bones_box")
        QVBoxLayout(box).addWidget(self.table)
        self._insert_into_segment_tab(box)
        self.markers: dict[str, QLabel] = {}
        for name, view in window.viewer.views.items():
            marker = QLabel("", view.canvas)
            marker.setObjectName(f"side_marker_{name.lower()}")
            marker.setStyleSheet(MARKER_STYLE)
            marker.move(4, 4)
            marker.setVisible(False)
            self.markers[name] = marker
        self.legend = QLabel("")
        self.legend.setObjectName("view3d_legend")
        self.legend.setStyleSheet("font-size: 11px; padding: 0 4px;")
        window.viewer.view3d.layout().insertWidget(1, self.legend)
        self.timer = QTimer(window)
        self.timer.setSingleShot(True)
        self.timer.setInterval(RESPLIT_DELAY_MS)
        self.timer.timeout.connect(self.refresh)
        window.session.resultChanged.connect(lambda _result: self.refresh())
        window.viewer_state.cursorChanged.connect(lambda _cursor: self._show_markers())
        window.session.resultEdited.connect(self.timer.start)

    def _insert_into_segment_tab(self, box: QGroupBox) -> None:
        """Into the Segment tab's scrolling part, right below the Case box (in sight without scrolling)."""
        tabs = self.w.tabs
        index = next((i for i in range(tabs.count()) if tabs.tabText(i) == "Segment"), 0)
        page = tabs.widget(index)
        area = page if isinstance(page, QScrollArea) else page.findChild(QScrollArea)
        inner = area.widget() if area is not None else page
        layout = inner.layout()
        items = [layout.itemAt(i).widget() for i in range(layout.count())]
        case = next((i for i, w in enumerate(items) if isinstance(w, QGroupBox) and w.title() == "Case"), None)
        layout.insertWidget(case + 1 if case is not None else max(layout.count() - 1, 0), box)

    # ----- splitting ----------------------------------------------------------------------
    def refresh(self) -> None:
        """Split the current result (or clear everything when there is none)."""
        result = self.w.session.result
        if result is None:
            self._cancel()
            self._cache = None  # the part map of a closed case's result is not kept
            self._show(None)
            return
        self._request(result.labels)

    def build_surfaces(self, labels: Any) -> None:
        """The 3D surfaces of ``labels`` (result or reference), one per bone and side."""
        self._surfaces_for = labels
        self._request(labels)

    def _request(self, labels: Any) -> None:
        if self._cache is not None and self._cache[0] is labels:
            self._deliver(labels, self._cache[1])
            return
        if self._wanted is labels and self._task is not None and self._task.running:
            return
        self._cancel()
        names = {int(k): v for k, v in self.w.viewer_state.label_names.items() if int(k) != 0}
        ct = self.w.session.volume
        task = Task(lambda progress, cancel: split_labels(labels, names, ct), name="sides", parent=self.w)
        task.finished.connect(lambda split: self._on_split(task, labels, split))
        task.failed.connect(lambda exc: self._on_failed(task, exc))
        self._task, self._wanted = task, labels
        if self._is_result(labels):
            self.table.show_split(None, "Telling the knees apart…")
        task.start()

    def _cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._task, self._wanted = None, None

    def _on_split(self, task: Task, labels: Any, split: Any) -> None:
        if task is not self._task:
            return  # replaced by a newer request
        self._task, self._wanted = None, None
        self._cache = (labels, split)
        self._deliver(labels, split)

    def _on_failed(self, task: Task, exc: BaseException) -> None:
        if task is self._task:
            self._task, self._wanted = None, None
            self.w.dialogs.exception("Cannot tell the knees apart", exc)

    def _deliver(self, labels: Any, split: Any) -> None:
        if self._is_result(labels):
            self._show(split)
        if self._surfaces_for is labels:
            self._surfaces_for = None
            self.w.surfaces.build(split.part_labels(labels), split.names())
            self._show_legend(split)

    def _is_result(self, labels: Any) -> bool:
        result = self.w.session.result
        return result is not None and result.labels is labels

    # ----- showing ------------------------------------------------------------------------
    def _show(self, split: Any | None) -> None:
        self.split = split
        self.table.show_split(split)
        self._show_markers()
        if split is None:
            self.legend.setText("")
        else:
            self._show_legend(split)
        identity = getattr(self.w, "identity", None)
        if identity is not None:
            identity.refresh()

    def _show_markers(self) -> None:
        """Every slice view's corner names the knee(s); the sagittal one the knee its slice cuts."""
        text = marker_text(self.split)
        for name, marker in self.markers.items():
            shown = (self._cut_knee() or text) if name == "Sagittal" else text
            marker.setText(shown)
            marker.adjustSize()
            marker.setVisible(bool(shown))

    def _cut_knee(self) -> str:
        """'Left knee' when the sagittal plane at the cursor lies on the patient's left of two knees, else ''."""
        state, split = self.w.viewer_state, self.split
        if split is None or split.midline_x is None or state.geometry is None or state.volume is None:
            return ""
        zyx = state.geometry.to_array_index(tuple(state.cursor))
        x = float(state.volume.index_to_lps(np.array(zyx, dtype=float))[0])
        return "Left knee" if x > split.midline_x else "Right knee"

    def _show_legend(self, split: Any) -> None:
        """Coloured names of the surfaces under the 3D view's title ('■ right femur  ■ left femur')."""
        self.legend.setText(
            "  ".join(f"<span style='color:{hex_color(p.code)}'>■</span> {p.name}" for p in split.parts)
        )

    def split_of(self, labels: Any) -> Any | None:
        """The split of exactly ``labels`` when it is known already (for the checks), else None."""
        return self._cache[1] if self._cache is not None and self._cache[0] is labels else None

    def knee_line(self) -> str:
        """'Knee: right' for the case panel ('' without a split result)."""
        return self.split.knee_line() if self.split is not None else ""
