"""The status bar's "Saving the session… [bar] Stop" while a file is written in the background.

It only shows what the controller reports and passes the Stop click on; it decides nothing.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget


class SaveProgress(QWidget):
    """Hidden while idle; ``stopRequested`` when the user presses Stop."""

    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("")
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setMaximumWidth(160)
        self.stop = QPushButton("Stop")
        self.stop.setToolTip("Stop saving: no file is left behind")
        self.stop.clicked.connect(self.stopRequested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.label, self.bar, self.stop):
            layout.addWidget(widget)
        self.setVisible(False)

    def begin(self, text: str) -> None:
        self.label.setText(text)
        self.bar.setValue(0)
        self.setVisible(True)

    def show_progress(self, stage: str, fraction: float) -> None:
        self.label.setText(stage)
        self.bar.setValue(int(1000 * min(max(fraction, 0.0), 1.0)))

    def end(self) -> None:
        self.setVisible(False)
