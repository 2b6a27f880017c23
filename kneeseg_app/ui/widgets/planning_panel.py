"""The measurements of each planned knee, one table per side, following hand corrections."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QTableWidget, QTableWidgetItem, QTabWidget, QVBoxLayout, QWidget

from kneeseg_app.ui.state.planning_state import PlanningState

COLUMNS = ("measurement", "value", "status", "confidence", "note")


class PlanningPanel(QWidget):
    """Tabs 'Right knee' / 'Left knee' with the measurements table; redraws on ``changed``."""

    def __init__(self, planning: PlanningState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.planning = planning
        self.tabs = QTabWidget()
        self.tables: dict[str | None, QTableWidget] = {}
        self.empty = QLabel("No plan yet: segment, then plan (kneeseg plan).")
        layout = QVBoxLayout(self)
        layout.addWidget(self.empty)
        layout.addWidget(self.tabs, 1)
        planning.changed.connect(self._on_changed)
        self._on_changed(None)

    def _on_changed(self, side: str | None) -> None:
        plan = self.planning.plan
        self.empty.setVisible(plan is None)
        if plan is None:
            self.tabs.clear()
            self.tables.clear()
            return
        if side is None or side not in self.tables:
            self.tabs.clear()
            self.tables.clear()
            for knee in plan.knees:
                table = QTableWidget(0, len(COLUMNS))
                table.setHorizontalHeaderLabels(COLUMNS)
                table.setObjectName(f"measurements_{knee.side}")
                self.tables[knee.side] = table
                self.tabs.addTab(table, f"{(knee.side or 'unknown side').capitalize()} knee")
        for knee in plan.knees:
            if side is None or knee.side == side:
                self._fill(self.tables[knee.side], knee)

    def value_text(self, side: str | None, measure: str) -> str:
        """The text shown for a measurement (what a person reads; used by tests)."""
        table = self.tables[side]
        for row in range(table.rowCount()):
            if table.item(row, 0).text() == measure:
                return table.item(row, 1).text()
        raise KeyError(measure)

    @staticmethod
    def _fill(table: QTableWidget, knee) -> None:
        measures = list(knee.measures.values())
        table.setRowCount(len(measures))
        for row, f in enumerate(measures):
            value = "" if f.value is None else f"{f.value:.2f} {f.unit}"
            for col, text in enumerate((f.name, value, f.status, f.confidence, f.note)):
                table.setItem(row, col, QTableWidgetItem(text))
        table.resizeColumnsToContents()
