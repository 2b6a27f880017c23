"""Builds the bone surfaces for the 3D view in the background. No widgets.

Only the newest request counts: a result replaced while its surfaces are still being
computed cancels the old build, so the 3D view never shows another case's bones.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal

from kneeseg_app.ui.controllers.workers import Task
from kneeseg_app.ui.state.display_mesh import DisplayMesh, display_mesh, triangles_per_bone


def compute_meshes(labels: Any, names: dict[int, str], progress, cancel) -> dict[str, DisplayMesh]:
    """Display surfaces of each bone, decimated to the view's budget and with their normals, all in
    the worker: the UI thread only hands finished arrays to OpenGL (imports the mesh module lazily)."""
    from kneeseg_app.core import mesh

    budget = triangles_per_bone(len(names))
    meshes = mesh.bone_meshes(
        labels, names, target_triangles=budget, smoothing_iterations=5, progress=progress, cancel=cancel
    )
    return {name: display_mesh(surface) for name, surface in meshes.items()}


class SurfaceController(QObject):
    started = Signal()
    ready = Signal(object, object)  # dict name -> Mesh, label names
    failed = Signal(str)  # one sentence

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.task: Task | None = None

    def build(self, labels: Any, names: dict[int, str]) -> None:
        self.cancel()
        names = {int(k): v for k, v in names.items() if int(k) != 0}
        task = Task(lambda p, c: compute_meshes(labels, names, p, c), name="surfaces", parent=self)
        task.finished.connect(lambda meshes: self._deliver(task, meshes, names))
        task.failed.connect(lambda exc: self._fail(task, exc))
        self.task = task
        self.started.emit()
        task.start()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
            self.task = None

    def _deliver(self, task: Task, meshes: Any, names: dict[int, str]) -> None:
        if task is self.task:
            self.ready.emit(meshes, names)

    def _fail(self, task: Task, exc: BaseException) -> None:
        if task is self.task:
            from kneeseg_app.core.errors import describe_exception

            self.failed.emit(describe_exception(exc)[0])
