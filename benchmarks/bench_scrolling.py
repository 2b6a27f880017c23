"""Slice scrolling in the real window, with and without the 3D bones shown (issue 14, item 6).

Needs a real display (X11 / Xvfb), since the point is what the window system and OpenGL
cost; with Mesa's software OpenGL (llvmpipe) the 3D view's compositing used to make
every slice step cost 50-85 ms. Run for example:

    Xvfb :99 -screen 0 1366x768x24 & openbox &
    DISPLAY=:99 LIBGL_ALWAYS_SOFTWARE=1 python benchmarks/bench_scrolling.py --steps 60

Opens the demo case (its reference's bones appear in 3D), waits until the surfaces are
drawn, then steps the axial slice ``--steps`` times (as the Up/Down keys do) and times
each step until its paint has reached the window system. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace


def _wait(condition, timeout_s: float) -> bool:
    from PySide6.QtTest import QTest

    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            return False
        QTest.qWait(20)
    return True


def time_steps(app, window, steps: int) -> list[float]:
    """Milliseconds per axial slice step, each until its repaint has been flushed."""
    from kneeseg_app.ui.state.display_geometry import AXIAL

    state = window.viewer_state
    times = []
    for i in range(steps):
        direction = 1 if (i // 10) % 2 == 0 else -1
        start = time.perf_counter()
        state.move_slice(AXIAL, direction)
        app.processEvents()  # the posted repaints are painted and flushed here
        app.processEvents()
        times.append((time.perf_counter() - start) * 1000)
    return times


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"| {name} | {len(times)} | {statistics.median(times):.1f} | {p95:.1f} | {max(times):.1f} |"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--home", default="", help="KNEESEG_HOME (default: a temporary folder; the demo is generated)")
    parser.add_argument("--without-3d", action="store_true", help="never create the OpenGL view (the baseline)")
    parser.add_argument(
        "--qopenglwidget", action="store_true", help="the 3D view as a QOpenGLWidget, as before issue 14 (comparison)"
    )
    parser.add_argument("--screenshot", default="", help="save a grab of the window here (PNG)")
    args = parser.parse_args(argv)
    if args.home:
        os.environ["KNEESEG_HOME"] = args.home
    else:
        os.environ.setdefault("KNEESEG_HOME", tempfile.mkdtemp(prefix="kneeseg-bench-"))
    from PySide6.QtCore import QSettings

    from kneeseg_app.ui.app import create_application
    from kneeseg_app.ui.state.settings import AppSettings
    from kneeseg_app.ui.windows.main_window import MainWindow

    app = create_application(["kneeseg"])
    settings = AppSettings(QSettings(str(Path(os.environ["KNEESEG_HOME"]) / "bench.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings=settings)
    window.show()
    view3d = window.viewer.view3d
    if args.without_3d:
        view3d._reason = "not created (--without-3d)"
    if args.qopenglwidget:
        _use_qopenglwidget(view3d)
    arrival_ms = _time_arrival(window, normals_in_worker=not args.qopenglwidget)
    window.open_demo()
    if not _wait(lambda: window.session.reference is not None, 600):
        print("the demo case did not open", file=sys.stderr)
        return 1
    reason = view3d.unavailable_reason
    shown = _wait(lambda: view3d.stack.currentIndex() != 0, 300) if not reason else False
    _wait(lambda: False, 1.0)
    renderer = _renderer()
    kind = "QOpenGLWidget" if args.qopenglwidget else "QOpenGLWindow in a container"
    rows = [f"| 3D bones shown ({kind if shown else 'no: ' + reason}) | steps | median ms | p95 ms | max ms |"]
    rows.append("|---|---|---|---|---|")
    rows.append(summary("four views, 3D view with the bones", time_steps(app, window, args.steps)))
    window.viewer.toggle_maximised("Axial")
    _wait(lambda: False, 0.5)
    rows.append(summary("axial view alone (3D hidden)", time_steps(app, window, args.steps)))
    window.viewer.toggle_maximised("Axial")
    if args.screenshot:
        _wait(lambda: False, 0.5)
        # the screen, not window.grab(): the 3D view is a native OpenGL window a widget grab leaves out
        window.screen().grabWindow(0).save(args.screenshot)
    size = window.size()
    print(
        f"OpenGL renderer: {renderer}; window {size.width()}x{size.height()}; "
        f"QT_SCALE_FACTOR={os.environ.get('QT_SCALE_FACTOR', '1')}"
    )
    print("\n".join(rows))
    print(
        f"UI thread when the surfaces arrived (hand-over and first paint): {', '.join(f'{t:.0f} ms' for t in arrival_ms)}"
    )
    window.session.set_case(None)
    window.close()
    return 0


def _time_arrival(window, normals_in_worker: bool) -> list[float]:
    """Milliseconds the UI thread spends when surfaces arrive: handing them over and the first paint.

    ``normals_in_worker=False`` drops the worker's normals, so pyqtgraph computes them on the
    UI thread as it did before issue 14."""
    from PySide6.QtWidgets import QApplication

    view3d, spent = window.viewer.view3d, []
    show = view3d.set_meshes

    def timed(meshes, names) -> None:
        if not normals_in_worker:
            meshes = {name: SimpleNamespace(vertices=m.vertices, faces=m.faces) for name, m in meshes.items()}
        start = time.perf_counter()
        show(meshes, names)
        QApplication.processEvents()  # the first paint of the new surfaces
        spent.append((time.perf_counter() - start) * 1000)

    window.surfaces.ready.disconnect(show)
    window.surfaces.ready.connect(timed)
    return spent


def _use_qopenglwidget(view3d) -> None:
    """Build the 3D view as pyqtgraph's GLViewWidget (a QOpenGLWidget), the way it was before."""

    def ensure_gl() -> None:
        if view3d._gl is None:
            import pyqtgraph.opengl as gl

            view3d._gl = view3d._gl_widget = gl.GLViewWidget()
            view3d._gl.setBackgroundColor("k")
            view3d.stack.addWidget(view3d._gl)

    view3d._ensure_gl = ensure_gl


def _renderer() -> str:
    """The OpenGL renderer string (llvmpipe: Mesa's software OpenGL)."""
    try:
        from OpenGL import GL
        from PySide6.QtGui import QOffscreenSurface, QOpenGLContext

        context, surface = QOpenGLContext(), QOffscreenSurface()
        surface.create()
        if not context.create() or not context.makeCurrent(surface):
            return "none"
        name = GL.glGetString(GL.GL_RENDERER)
        context.doneCurrent()
        return name.decode() if name else "unknown"
    except Exception as exc:  # noqa: BLE001 - only informative
        return f"unknown ({type(exc).__name__})"


if __name__ == "__main__":
    sys.exit(main())
