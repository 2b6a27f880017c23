"""The Checks tab: the verdict, one line per quality check, and a strip marking the flagged slices.

Thin: it shows what :class:`~kneeseg_app.ui.state.quality.ResultQuality` says and emits
``sliceRequested(index)`` (array axis 0) when the user picks a check or a marked slice.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from kneeseg_app.ui.state.quality import ResultQuality

COLORS = {"pass": "#3f8f3f", "warn": "#b58900", "fail": "#c0392b", "none": "#777777"}


class SliceStrip(QWidget):
    """A bar over all slices: a tick per flagged slice, a line at the slice shown; click to jump."""

    sliceRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("flagged_slices_strip")
        self.setMinimumHeight(18)
        self.setToolTip("Slices a check warns about or failed on; click to go there.")
        self.n_slices = 0
        self.flagged: tuple[int, ...] = ()
        self.current = -1

    def set_marks(self, n_slices: int, flagged: tuple[int, ...]) -> None:
        self.n_slices, self.flagged = n_slices, flagged
        self.update()

    def set_current(self, index: int) -> None:
        self.current = index
        self.update()

    def x_of(self, index: int) -> float:
        return (index + 0.5) / max(self.n_slices, 1) * self.width()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#202020"))
        width = max(self.width() / max(self.n_slices, 1), 1.0)
        for index in self.flagged:
            painter.fillRect(QRectF(self.x_of(index) - width / 2, 2, width, self.height() - 4), QColor(COLORS["fail"]))
        if 0 <= self.current < self.n_slices:
            painter.fillRect(QRectF(self.x_of(self.current) - 1, 0, 2, self.height()), QColor("#ffffff"))
        painter.end()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if not self.flagged or self.width() <= 0:
            return
        x = event.position().x()
        nearest = min(self.flagged, key=lambda index: abs(self.x_of(index) - x))
        self.sliceRequested.emit(int(nearest))


class ChecksPanel(QWidget):
    """Summary, checks list, flagged-slice strip and a note on the slice shown."""

    sliceRequested = Signal(int)

    def __init__(self, quality: ResultQuality, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.quality = quality
        self.summary = QLabel()
        self.summary.setObjectName("checks_summary")
        self.summary.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("checks_list")
        self.list.setWordWrap(True)
        self.list.itemActivated.connect(self._on_item)
        self.list.itemClicked.connect(self._on_item)
        self.strip = SliceStrip()
        self.strip.sliceRequested.connect(self.sliceRequested)
        self.slice_note = QLabel("")
        self.slice_note.setObjectName("checks_slice_note")
        self.slice_note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        layout.addWidget(QLabel("Flagged slices (click to go there):"))
        layout.addWidget(self.strip)
        layout.addWidget(self.slice_note)
        self.refresh(0)

    def refresh(self, n_slices: int) -> None:
        """Show the current checks (call after the quality changed)."""
        status = self.quality.status
        self.summary.setText(self.quality.summary())
        self.summary.setStyleSheet(f"color: {COLORS[status]}; font-weight: bold;")
        self.list.clear()
        for row in self.quality.rows():
            item = QListWidgetItem(row.text)
            item.setForeground(QColor(COLORS[row.status]))
            item.setData(Qt.ItemDataRole.UserRole, row.slices[0] if row.slices and row.status != "pass" else -1)
            item.setToolTip(row.message)
            self.list.addItem(item)
        self.strip.set_marks(n_slices, self.quality.flagged_slices())

    def set_current_slice(self, index: int) -> None:
        """Mark the slice shown (array axis 0) and say which checks flag it."""
        self.strip.set_current(index)
        flags = self.quality.flags_of_slice(index)
        self.slice_note.setText(f"Slice {index + 1} is flagged by: {', '.join(flags)}" if flags else "")

    def _on_item(self, item: QListWidgetItem) -> None:
        index = int(item.data(Qt.ItemDataRole.UserRole))
        if index >= 0:
            self.sliceRequested.emit(index)
