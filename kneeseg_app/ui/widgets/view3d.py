"""The rotatable 3D view of the bone surfaces, created only when first needed.

OpenGL is optional: without PyOpenGL, or on a display with no OpenGL (remote desktop,
offscreen), the panel shows why instead of a 3D view, and the app goes on. Surfaces
come from ``core.mesh.bone_meshes`` (LPS mm), computed in the background. Everything
is drawn shifted by ``-offset`` (the bones' centre: the camera orbits around it). The
plan, the CT plane and 3D measurements are drawn by ``view3d_overlays``; what they show
is decided in ``controllers.scene3d``. A click (press and release without a drag) is
reported as ``clicked(x, y, Camera)`` for measuring.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRect, Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedLayout,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from kneeseg_app.ui.state.camera_ray import Camera, from_column_major
from kneeseg_app.ui.state.part_colors import part_color

log = logging.getLogger(__name__)
CLICK_SLOP_PX = 4.0
"""A press and release closer than this is a click, not a rotation."""


def opengl_unavailable_reason() -> str:
    """Why a 3D view cannot be shown here ('' when it can)."""
    try:
        import pyqtgraph.opengl  # noqa: F401  (needs PyOpenGL)
    except Exception as exc:  # noqa: BLE001 - ImportError or a broken GL library
        return f"The 3D view needs the PyOpenGL package ({type(exc).__name__})."
    from PySide6.QtGui import QGuiApplication, QOpenGLContext

    platform = QGuiApplication.platformName()
    if platform in ("offscreen", "minimal"):
        return f"No OpenGL on this display (Qt platform '{platform}')."
    context = QOpenGLContext()
    if not context.create():
        return "OpenGL is not available on this display."
    return ""


def _gl_view_window(on_click: Any) -> Any:
    """pyqtgraph's GL view (camera, mouse, items) as a QOpenGLWindow instead of a QOpenGLWidget."""
    from pyqtgraph.opengl.GLViewWidget import GLViewMixin
    from PySide6.QtOpenGL import QOpenGLWindow

    class GLViewWindow(GLViewMixin, QOpenGLWindow):
        def devicePixelRatioF(self) -> float:  # noqa: N802 (the QWidget name the mixin calls)
            return float(self.devicePixelRatio())

        def rect(self) -> QRect:  # the QWidget method GLTextItem calls
            return QRect(0, 0, self.width(), self.height())

        def mousePressEvent(self, ev: Any) -> None:  # noqa: N802
            self._press = QPointF(ev.position())
            super().mousePressEvent(ev)

        def mouseReleaseEvent(self, ev: Any) -> None:  # noqa: N802
            press, pos = getattr(self, "_press", None), QPointF(ev.position())
            left = ev.button() == Qt.MouseButton.LeftButton
            if press is not None and left and (pos - press).manhattanLength() <= CLICK_SLOP_PX:
                on_click(pos.x(), pos.y())
            super().mouseReleaseEvent(ev)

    return GLViewWindow()


class Surface3DView(QWidget):
    """Placeholder with a message until surfaces exist and OpenGL works."""

    buildRequested = Signal()
    clicked = Signal(float, float, object)  # logical pixel x, y and the Camera at that moment

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("view_3d")
        self._gl: Any = None
        self._gl_widget: QWidget | None = None
        self._items: list[Any] = []
        self.overlays: Any = None  # Overlays3D once OpenGL runs
        self.offset = np.zeros(3)
        self._overlay_data: dict[str, Any] = {"plan": None, "plane": None, "measure": []}
        self.message = QLabel("3D surfaces appear here after a segmentation.")
        self.message.setObjectName("view3d_message")
        self.message.setWordWrap(True)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setStyleSheet("color: #a0a0a0; background: black; padding: 12px;")
        self.build_button = QPushButton("Show 3D surfaces")
        self.build_button.setVisible(False)
        self.build_button.clicked.connect(self.buildRequested)
        placeholder = QWidget()
        placeholder.setStyleSheet("background: black;")
        inner = QVBoxLayout(placeholder)
        inner.addStretch(1)
        inner.addWidget(self.message)
        inner.addWidget(self.build_button, 0, Qt.AlignmentFlag.AlignHCenter)
        inner.addStretch(1)
        self.title = QLabel("3D")
        self.title.setStyleSheet("font-weight: bold;")
        hint = QLabel("drag: rotate · wheel: zoom · seen from the front")
        hint.setStyleSheet("color: gray; font-size: 11px;")
        # the hint may be cut, never widen its column: the four views share the space equally
        hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.reset_button = QToolButton()
        self.reset_button.setText("Front view")
        self.reset_button.clicked.connect(self.reset_camera)
        self.header = header = QHBoxLayout()
        header.setContentsMargins(4, 0, 4, 0)
        header.addWidget(self.title)
        header.addWidget(hint, 1)
        header.addWidget(self.reset_button)
        self.stack = QStackedLayout()
        self.stack.addWidget(placeholder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        layout.addLayout(header)
        layout.addLayout(self.stack, 1)
        self._reason: str | None = None
        self._extent = 200.0

    @property
    def unavailable_reason(self) -> str:
        if self._reason is None:
            self._reason = opengl_unavailable_reason()
        return self._reason

    def show_message(self, text: str, offer_build: bool = False) -> None:
        self.message.setText(text)
        self.build_button.setVisible(offer_build and not self.unavailable_reason)
        self.stack.setCurrentIndex(0)

    def clear(self) -> None:
        for item in self._items:
            self._gl.removeItem(item)
        self._items = []
        self.title.setText("3D")
        self.show_message("3D surfaces appear here after a segmentation.")

    def set_meshes(self, meshes: dict[str, Any], names: dict[int, str]) -> None:
        """Show bone surfaces (LPS mm), coloured like the slice overlay."""
        if self.unavailable_reason:
            self.show_message(self.unavailable_reason)
            return
        try:
            self._ensure_gl()
            self._replace_items(meshes, names)
        except Exception as exc:  # noqa: BLE001 - a GL failure must not take the app down
            log.warning("3D view failed", exc_info=True)
            self._reason = f"The 3D view could not be drawn ({type(exc).__name__}: {exc})."
            self.show_message(self._reason)
            return
        self.stack.setCurrentWidget(self._gl_widget)

    def _ensure_gl(self) -> None:
        if self._gl is not None:
            return
        from kneeseg_app.ui.widgets.view3d_overlays import Overlays3D

        self._gl = _gl_view_window(self._on_gl_click)
        surface = self._gl.format()
        # a QOpenGLWindow gets no depth buffer unless asked: without one, triangles drawn later
        # covered nearer ones (speckled bones) and the CT plane covered the bones in front of it
        surface.setDepthBufferSize(24)
        self._gl.setFormat(surface)
        self._gl.setBackgroundColor("k")
        self.overlays = Overlays3D(self._gl)
        self._show_overlays()
        # a native OpenGL window in a container: a QOpenGLWidget would make Qt composite the
        # WHOLE main window through OpenGL on every repaint, so each slice step paid for it
        # (50-85 ms with software OpenGL); the container keeps the slice views' paints raster
        self._gl_widget = QWidget.createWindowContainer(self._gl, self)
        self._gl_widget.setObjectName("view3d_gl")
        self._gl_widget.setMinimumSize(50, 50)
        self.stack.addWidget(self._gl_widget)

    def _replace_items(self, meshes: dict[str, Any], names: dict[int, str]) -> None:
        import pyqtgraph.opengl as gl

        for item in self._items:
            self._gl.removeItem(item)
        self._items = []
        label_of = {name: label for label, name in names.items()}
        all_vertices = []
        for name, mesh in meshes.items():
            vertices = np.asarray(mesh.vertices, dtype=np.float32)
            faces = np.asarray(mesh.faces, dtype=np.int32)
            r, g, b = (min(255, int(c * 0.6 + 110)) for c in part_color(label_of.get(name, 1)))
            data = gl.MeshData(vertexes=vertices, faces=faces)
            normals = getattr(mesh, "normals", None)
            if normals is not None:  # computed in the worker: pyqtgraph's own loop would freeze the window
                # negated: pyqtgraph's 'shaded' light, (1, -1, -1) in eye space, lights the faces turned
                # AWAY from the camera; so the bones are lit from the viewer's upper left instead
                data._vertexNormals = -np.asarray(normals, dtype=np.float32)
            item = gl.GLMeshItem(meshdata=data, color=(r / 255, g / 255, b / 255, 1.0), shader="shaded", smooth=True)
            self._gl.addItem(item)
            self._items.append(item)
            all_vertices.append(vertices)
        if all_vertices:
            points = np.concatenate(all_vertices)
            centre = (points.min(axis=0) + points.max(axis=0)) / 2
            for item in self._items:
                item.translate(*(-centre))
            self.offset = centre.astype(np.float64)
            self.overlays.set_offset(self.offset)
            self._extent = float(np.max(points.max(axis=0) - points.min(axis=0)))
            self.reset_camera()

    def reset_camera(self) -> None:
        """Look from the front: LPS x (Left) to the right, z (Superior) up, as in coronal."""
        if self._gl is not None:
            # camera on the anterior side (-y): the patient's left is on screen right
            self._gl.setCameraPosition(distance=self._extent * 1.25, elevation=10, azimuth=-90)

    # ----- overlays (plan, CT plane, measurements) and clicks ------------------------------
    def show_plan(self, scene: Any) -> None:
        self._overlay_data["plan"] = scene
        self._show_overlays()

    def show_plane(self, plane: Any) -> None:
        self._overlay_data["plane"] = plane
        self._show_overlays()

    def show_measurements(self, measurements: list[Any]) -> None:
        self._overlay_data["measure"] = list(measurements)
        self._show_overlays()

    def _show_overlays(self) -> None:
        """Hand the latest overlay data to the GL items (kept until OpenGL runs)."""
        if self.overlays is None:
            return
        data = self._overlay_data
        try:
            if data["plan"] is not None:
                self.overlays.show_plan(data["plan"])
            self.overlays.show_plane(data["plane"])
            self.overlays.show_measurements(data["measure"])
        except Exception:  # noqa: BLE001 - an overlay must never take the 3D view down
            log.warning("3D overlay failed", exc_info=True)

    def set_measuring(self, on: bool) -> None:
        """A cross cursor while clicks place measurement points."""
        if self._gl is not None:
            self._gl.setCursor(Qt.CursorShape.CrossCursor if on else Qt.CursorShape.ArrowCursor)

    def camera(self) -> Camera | None:
        """The GL view's matrices now (None without OpenGL)."""
        if self._gl is None:
            return None
        viewport = self._gl.getViewport()
        return Camera(
            view=from_column_major(self._gl.viewMatrix().data()),
            projection=from_column_major(self._gl.projectionMatrix(viewport, viewport).data()),
            size=(float(self._gl.width()), float(self._gl.height())),
            device_pixel_ratio=float(self._gl.devicePixelRatio()),
            offset=self.offset.copy(),
        )

    def _on_gl_click(self, x: float, y: float) -> None:
        camera = self.camera()
        if camera is not None:
            self.clicked.emit(x, y, camera)
