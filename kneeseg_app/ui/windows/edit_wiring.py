"""Puts label editing into the main window: the Edit tab and menu, shortcuts, live redraw.

Kept out of ``main_window`` (which only builds and wires). The editing state is the
session's LabelEditor (``session.editor``); the slice views forward left gestures to the
EditController while a tool is active. After each finished edit the things computed from
the result - volumes, metrics against a reference, 3D surfaces - are refreshed once the
user pauses, from ``session.result``, which carries the edits.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QScrollArea

from kneeseg_app.ui.controllers.editing import EditController, EditTool
from kneeseg_app.ui.controllers.segmentation import describe_result
from kneeseg_app.ui.widgets.edit_panel import EditPanel

REFRESH_DELAY_MS = 600
"""Metrics and surfaces are rebuilt this long after the last edit (not on every stroke)."""

TOOL_SHORTCUTS = (
    (EditTool.BRUSH, "Brush", "B"),
    (EditTool.ERASER, "Eraser", "E"),
    (EditTool.FILL, "Fill region", "F"),
    (EditTool.REMOVE_ISLAND, "Remove a piece (click it)", None),
    (EditTool.KEEP_ISLAND, "Keep a piece (click it)", None),
    (EditTool.NONE, "Leave the tool", "Esc"),
)


class EditWiring:
    """Creates the EditController and EditPanel of ``window`` and connects them."""

    def __init__(self, window: Any) -> None:
        self.w = window
        self.controller = EditController(window.viewer_state, window)
        self.panel = EditPanel(self.controller)
        area = QScrollArea()
        area.setWidgetResizable(True)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        area.setWidget(self.panel)
        window.tabs.insertTab(1, area, "Edit")
        for view in window.viewer.views.values():
            view.pointer_tool = self.controller
        self.refresh_timer = QTimer(window)
        self.refresh_timer.setSingleShot(True)
        self.refresh_timer.setInterval(REFRESH_DELAY_MS)
        self.refresh_timer.timeout.connect(self._refresh_derived)
        self.actions: dict[str, QAction] = {}
        self._build_menu()
        self._connect()
        self._enable_actions(False)

    def _connect(self) -> None:
        w, c = self.w, self.controller
        c.labelsChanged.connect(lambda event: w.viewer_state.labels_edited(event.box))
        c.message.connect(lambda text: w.statusBar().showMessage(text, 8000))
        c.settingsChanged.connect(self._show_tool)
        c.availabilityChanged.connect(self._enable_actions)
        w.session.resultChanged.connect(self._on_result)
        w.session.resultEdited.connect(self._on_edited)

    def _build_menu(self) -> None:
        bar = self.w.menuBar()
        menu = bar.addMenu("&Edit")
        view_menu = next((a for a in bar.actions() if a.text() == "&View"), None)
        if view_menu is not None:
            bar.insertMenu(view_menu, menu)
        c = self.controller
        self._add(menu, "undo", "Undo", c.undo, [QKeySequence.StandardKey.Undo])
        self._add(menu, "redo", "Redo", c.redo, [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        menu.addSeparator()
        for tool, text, key in TOOL_SHORTCUTS:
            self._add(
                menu, f"tool_{tool.value}", text, lambda t=tool: c.set_tool(t), [QKeySequence(key)] if key else []
            )
        menu.addSeparator()
        self._add(menu, "smooth", "Smooth the bone", lambda: c.smooth(False), [])
        self._add(menu, "holes", "Fill the bone's holes", lambda: c.fill_holes(False), [])
        self._add(menu, "interpolate", "Interpolate between the last two painted slices", c.interpolate, [])
        menu.addSeparator()
        self._add(menu, "revert", "Revert to model result", c.revert, [])

    def _add(self, menu: Any, key: str, text: str, slot: Any, shortcuts: list[QKeySequence]) -> None:
        action = QAction(text, self.w)
        action.setShortcuts(shortcuts)
        action.triggered.connect(lambda _checked=False: slot())
        menu.addAction(action)
        self.actions[key] = action

    def _enable_actions(self, available: bool) -> None:
        for key, action in self.actions.items():
            action.setEnabled(available or key == f"tool_{EditTool.NONE.value}")

    # ----- reactions ----------------------------------------------------------------------
    def _on_result(self, result: Any) -> None:
        """A new model result (or none): edit it, and draw the live edited labels."""
        session, state = self.w.session, self.w.viewer_state
        self.refresh_timer.stop()
        if result is None or session.edits is None:
            self.controller.attach(None)
            return
        session.edits.label_names = dict(state.label_names)
        self.panel.set_label_names(state.label_names)
        self.controller.attach(session.editor)
        state.set_labels(session.edits.live_labels)
        self.panel.refresh_status()

    def _on_edited(self) -> None:
        self.refresh_timer.start()
        result = self.w.session.result
        edited = self.w.session.edits is not None and self.w.session.edits.edited
        if result is not None:
            self.w.run_panel.outcome.setText(f"{describe_result(result)}{'  (edited)' if edited else ''}")

    def _refresh_derived(self) -> None:
        """Metrics and surfaces from the edited result (volumes are in the Edit tab already)."""
        if self.w.session.result is None:
            return
        self.w._compare()
        self.w._build_surfaces()
        if self.w.session.edits is not None and self.w.session.edits.edited:
            self.w.viewer.view3d.title.setText("3D: edited result")

    def _show_tool(self, settings: Any) -> None:
        tool = settings.tool
        text = "" if tool is EditTool.NONE else f"Tool: {tool.value} - left drag or click in a slice view; Esc leaves"
        self.w.statusBar().showMessage(text, 0 if text else 1)
