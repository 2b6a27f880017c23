"""The list of placed measurements (slice views and 3D): where, what, value; delete one or all."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("view", "tool", "value", "points")


class MeasureTable(QWidget):
    """Rows of (view, tool, value, points); the owner deletes what ``deleteRequested`` names."""

    deleteRequested = Signal(int)  # row
    clearRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("measure_table")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMaximumHeight(130)
        self.delete_button = QPushButton("Delete")
        self.delete_button.setObjectName("measure_delete")
        self.delete_button.clicked.connect(self._delete_selected)
        clear = QPushButton("Clear all")
        clear.setObjectName("measure_clear")
        clear.clicked.connect(self.clearRequested)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)
        buttons.addWidget(clear)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def show_rows(self, rows: list[tuple[str, str, str, str]]) -> None:
        selected = self.table.currentRow()
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        if 0 <= selected < len(rows):
            self.table.selectRow(selected)
        self.table.resizeColumnsToContents()

    def rows(self) -> list[tuple[str, ...]]:
        """The texts shown (what a person reads; used by tests)."""
        return [
            tuple(self.table.item(r, c).text() for c in range(self.table.columnCount()))
            for r in range(self.table.rowCount())
        ]

    def _delete_selected(self) -> None:
        row = self.table.currentRow()
        if row >= 0:
            self.deleteRequested.emit(row)
