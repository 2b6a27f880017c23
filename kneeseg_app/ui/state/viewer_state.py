"""State of the linked slice viewer (cursor, window, overlays): a QObject without widgets.

All three slice views draw from one ``ViewerState`` and change it only through its
methods, so they cannot disagree (the crosshair, the slices, the window), and the
state is tested without a window.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Signal

from kneeseg_app.core.volume import Volume
from kneeseg_app.ui.state import window_level as wl
from kneeseg_app.ui.state.display_geometry import DisplayGeometry, ViewSpec
from kneeseg_app.ui.state.overlay import (
    DEFAULT_LABEL_NAMES,
    REFERENCE_COLORS,
    RESULT_COLORS,
    OverlayStyle,
    overlay_rgba,
)

Index = tuple[int, int, int]


class ViewerState(QObject):
    """The current CT, its label maps, the cursor and the display settings."""

    volumeChanged = Signal()
    cursorChanged = Signal(object)  # display index (S, P, L)
    windowChanged = Signal(object)  # WindowLevel
    overlayChanged = Signal()
    labelsEdited = Signal(object)  # array box (tuple of slices) of the result's labels changed in place

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.volume: Volume | None = None
        self.geometry: DisplayGeometry | None = None
        self.labels: Volume | None = None
        self.reference: Volume | None = None
        self.label_names: dict[int, str] = dict(DEFAULT_LABEL_NAMES)
        self.cursor: Index = (0, 0, 0)
        self.window = wl.preset_window(wl.DEFAULT_PRESET)
        self.preset: str | None = wl.DEFAULT_PRESET
        self.result_style = OverlayStyle(palette=RESULT_COLORS, opacity=0.45, outline=False)
        self.reference_style = OverlayStyle(palette=REFERENCE_COLORS, opacity=1.0, outline=True)
        self.show_result = True
        self.show_reference = True
        self._ct_view: np.ndarray | None = None
        self._labels_view: np.ndarray | None = None
        self._reference_view: np.ndarray | None = None

    # ----- data -----------------------------------------------------------
    def set_volume(self, volume: Volume | None) -> None:
        """Show a new CT (drops the label maps of the previous one), cursor at its centre."""
        self.volume = volume
        self.labels = self.reference = None
        self._labels_view = self._reference_view = None
        if volume is None:
            self.geometry = None
            self._ct_view = None
        else:
            self.geometry = DisplayGeometry.from_volume(volume)
            self._ct_view = self.geometry.view(volume.array)
            self.cursor = tuple(n // 2 for n in self.geometry.shape)  # type: ignore[assignment]
            if self.preset is not None:
                self.window = wl.preset_window(self.preset, volume.array)
        self.volumeChanged.emit()
        self.windowChanged.emit(self.window)
        self.overlayChanged.emit()
        self.cursorChanged.emit(self.cursor)

    def set_labels(self, labels: Volume | None, names: dict[int, str] | None = None) -> None:
        """Show a model result on the current CT (it must share the CT's grid)."""
        self.labels = self._checked(labels)
        self._labels_view = self.geometry.view(labels.array) if labels is not None and self.geometry else None
        if names:
            self.label_names = {int(k): v for k, v in names.items() if int(k) != 0}
        self.overlayChanged.emit()

    def labels_edited(self, box: tuple[slice, ...] | None) -> None:
        """The shown result's labels changed in place (an edit): views showing ``box`` redraw them."""
        self.labelsEdited.emit(box)

    def shows(self, view: ViewSpec, box: tuple[slice, ...] | None) -> bool:
        """True when the slice ``view`` shows now crosses the array box (None: anywhere)."""
        if box is None or self.geometry is None:
            return True
        axis = self.geometry.perm[view.slice_axis]
        index = self.geometry.to_array_index(self.cursor)[axis]
        return bool(box[axis].start <= index < box[axis].stop)

    def set_reference(self, reference: Volume | None) -> None:
        """Show a reference segmentation (outlined) on the current CT."""
        self.reference = self._checked(reference)
        self._reference_view = self.geometry.view(reference.array) if reference is not None and self.geometry else None
        self.overlayChanged.emit()

    def _checked(self, labels: Volume | None) -> Volume | None:
        if labels is not None and (self.volume is None or labels.shape != self.volume.shape):
            raise ValueError("a label map must have the grid of the CT shown")
        return labels

    # ----- cursor and slices ---------------------------------------------
    def set_cursor(self, display_index: Index) -> None:
        if self.geometry is None:
            return
        new = self.geometry.clamp(display_index)
        if new != self.cursor:
            self.cursor = new
            self.cursorChanged.emit(new)

    def move_slice(self, view: ViewSpec, steps: int) -> None:
        """Scroll one view by ``steps`` slices (the others follow through the cursor)."""
        index = list(self.cursor)
        index[view.slice_axis] += int(steps)
        self.set_cursor(tuple(index))  # type: ignore[arg-type]

    def set_slice(self, view: ViewSpec, slice_index: int) -> None:
        index = list(self.cursor)
        index[view.slice_axis] = int(slice_index)
        self.set_cursor(tuple(index))  # type: ignore[arg-type]

    def slice_count(self, view: ViewSpec) -> int:
        return self.geometry.shape[view.slice_axis] if self.geometry else 0

    # ----- window/level ---------------------------------------------------
    def apply_preset(self, name: str) -> None:
        self.preset = name
        self.set_window(
            wl.preset_window(name, self.volume.array if self.volume is not None else None), keep_preset=True
        )

    def set_window(self, window: wl.WindowLevel, keep_preset: bool = False) -> None:
        if not keep_preset:
            self.preset = None
        self.window = window
        self.windowChanged.emit(window)

    # ----- overlay settings ----------------------------------------------
    def set_opacity(self, opacity: float) -> None:
        self.result_style.opacity = float(min(max(opacity, 0.0), 1.0))
        self.overlayChanged.emit()

    def set_outline(self, outline: bool) -> None:
        self.result_style.outline = bool(outline)
        self.overlayChanged.emit()

    def set_label_visible(self, label: int, visible: bool) -> None:
        for style in (self.result_style, self.reference_style):
            (style.hidden.discard if visible else style.hidden.add)(int(label))
        self.overlayChanged.emit()

    def set_show(self, result: bool | None = None, reference: bool | None = None) -> None:
        if result is not None:
            self.show_result = bool(result)
        if reference is not None:
            self.show_reference = bool(reference)
        self.overlayChanged.emit()

    # ----- images for the views ------------------------------------------
    def ct_slice(self, view: ViewSpec) -> np.ndarray | None:
        if self._ct_view is None or self.geometry is None:
            return None
        return self.geometry.slice_image(self._ct_view, view, self.cursor[view.slice_axis])

    def result_rgba(self, view: ViewSpec) -> np.ndarray | None:
        if self._labels_view is None or not self.show_result or self.geometry is None:
            return None
        return overlay_rgba(
            self.geometry.slice_image(self._labels_view, view, self.cursor[view.slice_axis]), self.result_style
        )

    def reference_rgba(self, view: ViewSpec) -> np.ndarray | None:
        if self._reference_view is None or not self.show_reference or self.geometry is None:
            return None
        return overlay_rgba(
            self.geometry.slice_image(self._reference_view, view, self.cursor[view.slice_axis]), self.reference_style
        )

    # ----- readout --------------------------------------------------------
    def readout(self, display_index: Index) -> str:
        """One line for the status bar: voxel, LPS position, HU, label names there."""
        if self.volume is None or self.geometry is None or not self.geometry.contains(display_index):
            return ""
        zyx = self.geometry.to_array_index(display_index)
        lps = self.volume.index_to_lps(np.array(zyx, dtype=float))
        value = self.volume.array[zyx]
        parts = [
            f"voxel (i, j, k) = ({zyx[2]}, {zyx[1]}, {zyx[0]})",
            f"LPS = ({lps[0]:.1f}, {lps[1]:.1f}, {lps[2]:.1f}) mm",
            f"{float(value):.0f} HU",
        ]
        for title, labels in (("result", self.labels), ("reference", self.reference)):
            if labels is not None:
                label = int(labels.array[zyx])
                parts.append(
                    f"{title}: {self.label_names.get(label, 'background' if label == 0 else f'label {label}')}"
                )
        return "   ".join(parts)
