"""The main window's menus and tool bar: entries and the flows they start (no logic here).

Kept out of ``main_window`` so that it only builds the panels and wires controllers. The
flows themselves are in ``window_actions`` (and ``session_flows``, ``edit_wiring``...,
which add their own entries).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtGui import QAction, QKeySequence


def add_action(window: Any, menu: Any, text: str, slot: Any, shortcut: Any = None, tip: str = "") -> QAction:
    """One menu entry (its status tip shows in the status bar while the mouse is on it)."""
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.setStatusTip(tip)
    action.triggered.connect(lambda checked=False: slot())
    menu.addAction(action)
    return action


def build_menus(window: Any) -> None:
    """File, View, Models, Tools and Help, and the tool bar; sets ``window.recent_menu``."""
    a = window.flows
    file = window.menuBar().addMenu("&File")
    window.act_open_folder = add_action(
        window, file, "Open DICOM folder…", a.open_folder, QKeySequence.StandardKey.Open
    )
    add_action(window, file, "Open image file…", a.open_file, "Ctrl+Shift+O")
    add_action(window, file, "Open demo case", a.open_demo, tip="The bundled synthetic knee CT with its reference")
    window.recent_menu = file.addMenu("Recent")
    file.addSeparator()
    add_action(window, file, "Load reference segmentation…", a.load_reference, "Ctrl+R")
    file.addSeparator()
    add_action(window, file, "Save label map…", a.save_labels, QKeySequence.StandardKey.Save)
    add_action(
        window,
        file,
        "Save as DICOM SEG…",
        a.save_dicom_seg,
        tip="The label map as a DICOM Segmentation of the CT's slices",
    )
    add_action(window, file, "Save screenshot…", a.save_screenshot, "Ctrl+P")
    add_action(window, file, "Export metrics (CSV)…", a.export_metrics)
    add_action(
        window, file, "Export bone surfaces (STL)…", a.export_surfaces, tip="Femur and tibia surfaces in LPS mm for CAD"
    )
    file.addSeparator()
    add_action(window, file, "Quit", window.close, QKeySequence.StandardKey.Quit)
    view = window.menuBar().addMenu("&View")
    add_action(window, view, "Fit images", window.viewer.reset_zoom, "Ctrl+0")
    for name in ("Axial", "Coronal", "Sagittal", "3D"):
        add_action(window, view, f"Show {name} alone / all views", lambda n=name: window.viewer.toggle_maximised(n))
    models = window.menuBar().addMenu("&Models")
    add_action(window, models, "Add model…", a.add_model)
    add_action(window, models, "Refresh list", window.refresh_models)
    tools = window.menuBar().addMenu("&Tools")
    add_action(window, tools, "Batch evaluation…", a.open_batch, tip="Evaluate models on many cases with references")
    help_menu = window.menuBar().addMenu("&Help")
    add_action(window, help_menu, "Mouse and keys", a.show_controls, QKeySequence.StandardKey.HelpContents)
    add_action(window, help_menu, "About KneeSeg", a.show_about)
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("main_toolbar")
    toolbar.setMovable(False)
    for text, slot in (("Open folder", a.open_folder), ("Open file", a.open_file), ("Demo case", a.open_demo)):
        toolbar.addAction(text, slot)
    toolbar.addSeparator()
    toolbar.addAction("Segment", lambda: window.segment(window.run_panel.options()))
    toolbar.addAction("Load reference", a.load_reference)
    toolbar.addSeparator()
    toolbar.addAction("Save labels", a.save_labels)
    toolbar.addAction("Screenshot", a.save_screenshot)


def fill_recent(window: Any) -> None:
    """File > Recent: the cases opened last, a way to clear them."""
    window.recent_menu.clear()
    for path in window.settings.recent:
        window.recent_menu.addAction(path, lambda p=path: window.open_path(p))
    if not window.settings.recent:
        window.recent_menu.addAction("(none)").setEnabled(False)
    else:
        window.recent_menu.addSeparator()
        window.recent_menu.addAction("Clear list", lambda: (window.settings.clear_recent(), fill_recent(window)))
