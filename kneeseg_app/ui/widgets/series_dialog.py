"""The series chooser shown when a DICOM folder holds several image series."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Description", "Modality", "Slices", "Thickness", "Kernel", "Size", "Notes")
IDENTITY_COLUMNS = ("Patient", "Patient ID", "Born", "Study date", "Study", "Accession", "Laterality")
"""Whose scan each series is (shown first, so two patients in one folder cannot be mixed up)."""


def identity_cells(info: Any, hidden: bool = False) -> list[str]:
    """The patient columns of one series; identifiers read '(hidden)' while View > Hide identifiers is on."""
    from kneeseg_app.core.identity import PatientIdentity

    identity = getattr(info, "identity", None) or PatientIdentity()
    values = dict(identity.rows(hidden))
    return [
        values.get("patient", ""),
        values.get("patient ID", ""),
        values.get("born", ""),
        values.get("study date", ""),
        values.get("study", ""),
        values.get("accession", ""),
        values.get("laterality", ""),
    ]


def series_row(info: Any) -> list[str]:
    """The table cells describing one series (what a radiographer would look at)."""
    thickness = getattr(info, "slice_thickness_mm", None)
    spacing = getattr(info, "pixel_spacing_mm", None)
    size = f"{info.columns} x {info.rows}"
    if spacing:
        size += f"  ({spacing[1]:.2f} mm)"
    notes = "; ".join(
        s
        for s in (getattr(info, "notes", ""), getattr(info, "problem", ""), getattr(info, "not_volume_reason", ""))
        if s
    )
    return [
        info.description or "(no description)",
        info.modality or "?",
        str(info.n_slices),
        f"{thickness:.2f} mm" if thickness else "?",
        info.convolution_kernel or "?",
        size,
        notes,
    ]


GROUP_SHARED_REASONS = 3
"""Set-aside objects sharing one reason get one row when there are more than this many (1,000 exports: 1 row)."""


def table_rows(series: Sequence[Any], others: Sequence[Any]) -> list[tuple[list[str], bool]]:
    """(cells, selectable) for each series: volumes first (ranked), then the others."""
    by_reason: dict[str, list[Any]] = {}
    for info in others:
        by_reason.setdefault(getattr(info, "not_volume_reason", ""), []).append(info)
    set_aside: list[tuple[list[str], bool]] = []
    for reason, members in by_reason.items():
        if len(members) > GROUP_SHARED_REASONS:
            files = sum(m.n_slices for m in members)
            cells = [
                f"{len(members)} series (first: {members[0].description or '?'})",
                "",
                str(files),
                "",
                "",
                "",
                reason,
            ]
            set_aside.append((cells, False))
        else:
            set_aside.extend((series_row(m), False) for m in members)
    return [(series_row(s), True) for s in series] + set_aside


class SeriesDialog(QDialog):
    """Lists the series (best preselected); non-volumes are shown greyed with why."""

    def __init__(
        self,
        series: Sequence[Any],
        others: Sequence[Any] = (),
        preselect: int = 0,
        parent: QWidget | None = None,
        hide_identifiers: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Choose a series")
        self.series = list(series)
        rows = table_rows(series, others)
        rows = [
            (cells + (identity_cells(self.series[r], hide_identifiers) if r < len(self.series) else []), selectable)
            for r, (cells, selectable) in enumerate(rows)
        ]
        self.table = QTableWidget(len(rows), len(COLUMNS) + len(IDENTITY_COLUMNS))
        self.table.setObjectName("series_table")
        self.table.setHorizontalHeaderLabels((*COLUMNS, *IDENTITY_COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        for r, (cells, selectable) in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if not selectable:
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                    item.setForeground(QBrush(QColor("gray")))
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        for k in range(len(IDENTITY_COLUMNS)):  # shown first; logical columns keep COLUMNS' order
            header.moveSection(header.visualIndex(len(COLUMNS) + k), k)
        if self.series:
            self.table.selectRow(min(max(preselect, 0), len(self.series) - 1))
        self.table.doubleClicked.connect(self.accept)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel("This folder holds several series. The one best suited for bone segmentation is selected.")
        )
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(1100, 320)

    def chosen(self) -> Any | None:
        rows = {index.row() for index in self.table.selectionModel().selectedRows()}
        row = min(rows) if rows else -1
        return self.series[row] if 0 <= row < len(self.series) else None
