"""The model list: usable models selectable, unusable ones greyed with the reason."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from kneeseg_app.ui.controllers.models_controller import ModelEntry, ModelsController
from kneeseg_app.ui.state.model_info import model_facts, not_for_clinical_use

NAME_ROLE = Qt.ItemDataRole.UserRole


class ModelPanel(QWidget):
    """Shows ModelsController's entries and the selected model's manifest facts."""

    addRequested = Signal()

    def __init__(self, controller: ModelsController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.list = QListWidget()
        self.list.setObjectName("model_list")
        self.list.setMaximumHeight(110)
        self.list.itemSelectionChanged.connect(self._on_item)
        self.clinical = QLabel("NOT FOR CLINICAL USE")
        self.clinical.setObjectName("not_for_clinical_use")
        self.clinical.setStyleSheet("color: white; background: #b00020; font-weight: bold; padding: 3px;")
        self.clinical.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.clinical.setVisible(False)
        self.facts = QLabel()
        self.facts.setObjectName("model_facts")
        self.facts.setWordWrap(True)
        self.facts.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.facts.setAlignment(Qt.AlignmentFlag.AlignTop)
        add = QPushButton("Add model…")
        add.setObjectName("add_model")
        add.setToolTip("Copy a validated model package folder (manifest.json + ONNX) into your models folder")
        add.clicked.connect(self.addRequested)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(lambda: self.controller.refresh())
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(refresh)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(self.clinical)
        layout.addWidget(self.facts)
        controller.listChanged.connect(self._fill)
        controller.selectionChanged.connect(self._show)

    def _fill(self) -> None:
        self.list.blockSignals(True)
        self.list.clear()
        for entry in self.controller.entries:
            item = QListWidgetItem(entry.name if entry.usable else f"{entry.name}  (cannot be used)")
            item.setData(NAME_ROLE, entry.name)
            if entry.usable:
                family = getattr(getattr(entry.package, "manifest", None), "family", "")
                item.setToolTip(f"{entry.name} ({family})\n{entry.path}")
            else:
                item.setFlags(Qt.ItemFlag.ItemIsEnabled)  # visible, not selectable
                item.setForeground(QBrush(QColor("gray")))
                font = QFont(item.font())
                font.setItalic(True)
                item.setFont(font)
                item.setToolTip(f"Cannot be used: {entry.reason}\n{entry.path}")
            self.list.addItem(item)
        if not self.controller.entries:
            item = QListWidgetItem("No model installed: use Add model…")
            item.setFlags(Qt.ItemFlag.NoItemFlags)
            self.list.addItem(item)
        self.list.blockSignals(False)
        self._show(self.controller.selected)

    def _on_item(self) -> None:
        items = self.list.selectedItems()
        if items:
            self.controller.select(items[0].data(NAME_ROLE))

    def _show(self, entry: ModelEntry | None) -> None:
        self.list.blockSignals(True)
        for row in range(self.list.count()):
            item = self.list.item(row)
            item.setSelected(entry is not None and item.data(NAME_ROLE) == entry.name)
        self.list.blockSignals(False)
        unusable = [e for e in self.controller.entries if not e.usable]
        notes = "".join(
            f"<p style='color:gray'><i>{html.escape(e.name)}</i> cannot be used: {html.escape(e.reason)}</p>"
            for e in unusable
        )
        if entry is None:
            self.clinical.setVisible(False)
            self.facts.setText((notes or "") + "<p>No model selected.</p>")
            return
        self.clinical.setVisible(not_for_clinical_use(entry.package))
        rows = "".join(
            f"<tr><td style='color:gray; padding-right:6px'>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>"
            for k, v in model_facts(entry.package)
            if k != "Folder"
        )
        self.facts.setText(f"<table>{rows}</table>{notes}")
        self.facts.setToolTip(str(entry.path))
