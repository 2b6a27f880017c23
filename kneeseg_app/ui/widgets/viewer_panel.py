"""The four-up viewer: axial, coronal and sagittal slices plus the 3D surfaces.

Layout as 3D Slicer's "Four-Up": axial top left, 3D top right, coronal bottom left,
sagittal bottom right. Double-clicking a view's title maximises it (again: back).
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGridLayout, QWidget

from kneeseg_app.ui.state.display_geometry import AXIAL, CORONAL, SAGITTAL
from kneeseg_app.ui.state.viewer_state import ViewerState
from kneeseg_app.ui.widgets.slice_view import SliceView
from kneeseg_app.ui.widgets.view3d import Surface3DView

_POSITIONS = {"Axial": (0, 0), "3D": (0, 1), "Coronal": (1, 0), "Sagittal": (1, 1)}


class ViewerPanel(QWidget):
    """Three linked slice views and the 3D view; ``readout`` follows the mouse."""

    readout = Signal(str)

    def __init__(self, state: ViewerState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.views = {spec.name: SliceView(state, spec) for spec in (AXIAL, CORONAL, SAGITTAL)}
        self.view3d = Surface3DView()
        self._panels: dict[str, QWidget] = {**self.views, "3D": self.view3d}
        self._maximised: str | None = None
        self.grid = grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(3)
        for name, (row, col) in _POSITIONS.items():
            grid.addWidget(self._panels[name], row, col)
        for r in range(2):
            grid.setRowStretch(r, 1)
            grid.setColumnStretch(r, 1)
        for view in self.views.values():
            view.hovered.connect(self.readout)
            view.title.mouseDoubleClickEvent = lambda ev, n=view.spec.name: self.toggle_maximised(n)  # type: ignore[method-assign]

    def toggle_maximised(self, name: str) -> None:
        """Show one view alone, filling the whole panel, or all four again.

        Hiding the others is not enough: their empty row and column keep their stretch (half the
        space), so the rows and columns without the chosen view get no stretch while it is alone.
        """
        self._maximised = None if self._maximised == name else name
        for other, panel in self._panels.items():
            panel.setVisible(self._maximised in (None, other))
        row, col = _POSITIONS[self._maximised] if self._maximised else (None, None)
        for i in range(2):
            self.grid.setRowStretch(i, 1 if row in (None, i) else 0)
            self.grid.setColumnStretch(i, 1 if col in (None, i) else 0)

    @property
    def maximised(self) -> str | None:
        """The view shown alone (None: all four)."""
        return self._maximised

    def reset_zoom(self) -> None:
        for view in self.views.values():
            view.reset_zoom()
