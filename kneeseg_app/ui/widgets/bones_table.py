"""The bones of the result per side: which knee, which bone, how large (the Segment tab's table).

Shows a :class:`~kneeseg_app.core.sides.SideSplit`: a two-knee case lists four bones
(right femur, right tibia, left femur, left tibia), a one-knee case says which knee it is.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHeaderView, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from kneeseg_app.ui.state.part_colors import part_color

HEADERS = ("Side", "Bone", "Volume (mL)")


class BonesTable(QWidget):
    """The knee line ('Knee: right') above one row per bone and side."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.knee = QLabel("No result yet.")
        self.knee.setObjectName("knee_side")
        self.knee.setWordWrap(True)
        self.table = QTableWidget(0, len(HEADERS))
        self.table.setObjectName("bones_table")
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(20)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.knee)
        layout.addWidget(self.table)
        self.show_split(None)

    def show_split(self, split: Any | None, waiting: str = "No result yet.") -> None:
        """Fill the table from a SideSplit (None: empty, with ``waiting`` as the line above)."""
        parts = list(split.parts) if split is not None else []
        self.knee.setText(split.knee_line() if split is not None else waiting)
        self.knee.setToolTip(split.decision.how if split is not None else "")
        self.table.setRowCount(len(parts))
        for row, part in enumerate(parts):
            cells = (part.side or "unknown", part.bone, f"{part.volume_ml:.1f}")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if col == 0:
                    item.setBackground(QColor(*part_color(part.code)).darker(160))
                self.table.setItem(row, col, item)
        height = sum(self.table.rowHeight(r) for r in range(len(parts)))
        self.table.setFixedHeight(height + self.table.horizontalHeader().sizeHint().height() + 4)

    def rows(self) -> list[tuple[str, str, str]]:
        """The cells shown, row by row (tests and screenshots read them here)."""
        return [
            tuple(self.table.item(r, c).text() for c in range(len(HEADERS)))  # type: ignore[misc]
            for r in range(self.table.rowCount())
        ]
