"""What the surgeon sees: a grabbed window with the CT, the overlay and the panels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QImage
from test_main_window import open_and_segment

ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "ui"


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height, stride = image.width(), image.height(), image.bytesPerLine()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=stride * height).reshape(height, stride)
    return raw[:, : width * 3].reshape(height, width, 3).astype(int)


def _region(window, widget) -> QRect:
    top_left = widget.mapTo(window, QPoint(0, 0))
    return QRect(top_left, widget.size())


def test_the_window_shows_ct_overlay_and_panels(qtbot, window, threshold_model, knee_dicom) -> None:
    open_and_segment(qtbot, window, knee_dicom)
    state = window.viewer_state
    labels = window.session.result.labels.array
    femur_slice = int(np.argwhere(labels == 1)[:, 0].mean())
    state.set_cursor(state.geometry.to_display_index((femur_slice, 32, 32)))
    qtbot.wait(50)
    grabbed = window.grab()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert grabbed.save(str(ARTIFACTS / "main_window_segmented.png"))
    dpr = grabbed.devicePixelRatio()
    pixels = _pixels(grabbed.toImage())
    axial = _region(window, window.viewer.views["Axial"].canvas)
    crop = pixels[
        int(axial.top() * dpr) : int(axial.bottom() * dpr), int(axial.left() * dpr) : int(axial.right() * dpr)
    ]
    assert crop.std() > 20  # the CT is drawn, not a blank view
    r, g, b = crop[..., 0], crop[..., 1], crop[..., 2]
    orange = (r > g + 40) & (r > b + 60)  # femur overlay blended over grey CT
    assert orange.sum() > 100
    coronal = _region(window, window.viewer.views["Coronal"].canvas)
    crop = pixels[
        int(coronal.top() * dpr) : int(coronal.bottom() * dpr), int(coronal.left() * dpr) : int(coronal.right() * dpr)
    ]
    blue = crop[..., 2] > crop[..., 0] + 60  # tibia overlay
    assert blue.sum() > 100
    tools = _region(window, window.tabs)
    panel = pixels[
        int(tools.top() * dpr) : int(tools.bottom() * dpr), int(tools.left() * dpr) : int(tools.right() * dpr)
    ]
    assert panel.std() > 10  # the tool panel has content
