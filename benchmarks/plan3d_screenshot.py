"""The plan in the window's 3D view, on the demo case, with real OpenGL: a screenshot and checks.

Needs a display with OpenGL (X11 / Xvfb with Mesa's llvmpipe), for example:

    Xvfb :57 -screen 0 1920x1080x24 & DISPLAY=:57 openbox &
    DISPLAY=:57 LIBGL_ALWAYS_SOFTWARE=1 python benchmarks/plan3d_screenshot.py --out docs/images/plan-3d.png

Opens the demo, segments it with the bundled model, plans the result, shows the axial
slice as a CT plane in 3D and measures one 3D distance by two real mouse clicks in the
GL window (a landmark, then a point on the bone surface). Prints how far each landmark
lies from the displayed surface (a wrong transform shows here as centimetres), the
measured distance against the points' own distance, then saves the screen.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _wait(condition, timeout_s: float) -> bool:
    from PySide6.QtTest import QTest

    end = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > end:
            return False
        QTest.qWait(50)
    return True


def _click(view3d, x: float, y: float) -> None:
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    QTest.mouseClick(view3d._gl, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(int(x), int(y)))
    QTest.qWait(100)


def _surface_distances(window) -> list[tuple[str, float]]:
    """Each landmark's distance (mm) to the nearest vertex of the displayed surfaces."""
    meshes = window.planning.plan3d.controller._meshes
    vertices = np.concatenate([v for v, _ in meshes])
    out = []
    for marker in window.planning.plan3d.controller.scene.markers:
        out.append((marker.label, float(np.min(np.linalg.norm(vertices - marker.point, axis=1)))))
    return out


def _plan(window) -> bool:
    """Segment the demo, wait for its surfaces, plan it."""
    view3d = window.viewer.view3d
    if not _wait(lambda: window.run_panel.segment.isEnabled(), 120):
        print("the model was not ready", file=sys.stderr)
        return False
    arrived = []
    window.surfaces.ready.connect(lambda *_: arrived.append(window.session.result is not None))
    window.run_panel.segment.click()
    if not _wait(lambda: window.session.result is not None, 900):
        print("segmentation did not finish", file=sys.stderr)
        return False
    _wait(lambda: any(arrived), 600)  # the result's surfaces (not the reference's, shown first)
    _wait(lambda: view3d.stack.currentIndex() != 0, 60)
    window.planning.plan_current()
    return _wait(lambda: window.planning.state.plan is not None, 600)


def _measure(window) -> None:
    """One 3D distance by two clicks: on the medial epicondyle, then on the lateral condyle's surface."""
    view3d, planning = window.viewer.view3d, window.planning
    planning.measure_view.setCurrentText("3D")
    from kneeseg_app.ui.state.camera_ray import project_to_pixels
    from kneeseg_app.ui.widgets.measure_tools import add_ruler

    planning.add_measurement(add_ruler)
    markers = {m.name: m for m in planning.plan3d.controller.scene.markers}
    camera = view3d.camera()
    first = markers.get("epicondyle_medial") or next(iter(markers.values()))
    x, y = project_to_pixels(camera, first.point)[0][0]
    _click(view3d, x, y)
    target = markers.get("distal_lateral") or first
    tx, ty = project_to_pixels(camera, target.point)[0][0]
    _click(view3d, tx, ty - 25)  # above the distal lateral condyle point: the condyle's front surface
    done = planning.plan3d.measures.measurements
    if done:
        m = done[0]
        print(
            f"3D distance: {m.text()} ({m.describe()}); |p1 - p0| = {np.linalg.norm(m.points[1] - m.points[0]):.2f} mm"
        )
        back = project_to_pixels(camera, m.points[1])[0][0]
        print(f"the picked surface point lies {np.hypot(back[0] - tx, back[1] - ty + 25):.2f} px from the click")
    else:
        print(f"3D distance not complete: {planning.plan3d.measures.pending}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="plan-3d.png", help="the screenshot (PNG)")
    parser.add_argument("--plane", default="Coronal", help="the CT plane's view")
    parser.add_argument("--elevation", type=float, default=12.0)
    parser.add_argument("--azimuth", type=float, default=-75.0)
    parser.add_argument(
        "--also", nargs="*", default=[], help="more pictures of the 3D view alone: PLANE:ELEVATION:AZIMUTH each"
    )
    parser.add_argument("--view3d-only", default="", help="also save the 3D view alone here (PNG)")
    args = parser.parse_args(argv)
    os.environ.setdefault("KNEESEG_HOME", tempfile.mkdtemp(prefix="kneeseg-shot-"))
    from PySide6.QtCore import QSettings

    from kneeseg_app.ui.app import create_application
    from kneeseg_app.ui.state.settings import AppSettings
    from kneeseg_app.ui.windows.main_window import MainWindow

    app = create_application(["kneeseg"])
    settings = AppSettings(QSettings(str(Path(os.environ["KNEESEG_HOME"]) / "shot.ini"), QSettings.Format.IniFormat))
    window = MainWindow(settings=settings)
    window.showMaximized()
    window.open_demo()
    if not _wait(lambda: window.session.volume is not None, 600) or not _plan(window):
        print("the demo case could not be planned", file=sys.stderr)
        return 1
    view3d = window.viewer.view3d
    print(f"3D view: {'shown' if view3d.stack.currentIndex() != 0 else view3d.message.text()}")
    tabs = window.tabs
    tabs.setCurrentIndex(next(i for i in range(tabs.count()) if tabs.tabText(i) == "Plan"))
    state, planning = window.viewer_state, window.planning.state
    knee = planning.plan.knees[0]
    from kneeseg_app.ui.state.planning_state import lps_to_display

    centre = lps_to_display(state.volume, state.geometry, knee.finding("epicondyle_medial").point)
    state.set_cursor(tuple(int(round(v)) for v in centre))
    window.planning.plan3d.plane.setCurrentText(args.plane)
    view3d._gl.setCameraPosition(elevation=args.elevation, azimuth=args.azimuth)
    _wait(lambda: False, 1.0)
    distances = _surface_distances(window)
    worst = max(distances, key=lambda d: d[1])
    print(
        f"{len(distances)} landmarks; distance to the displayed surface: median "
        f"{np.median([d for _, d in distances]):.2f} mm, worst {worst[1]:.2f} mm ({worst[0]})"
    )
    _measure(window)
    _wait(lambda: False, 1.5)
    screen = window.screen()
    screen.grabWindow(0).save(args.out)
    if args.view3d_only:
        corner = view3d.mapToGlobal(view3d.rect().topLeft())
        screen.grabWindow(0, corner.x(), corner.y(), view3d.width(), view3d.height()).save(args.view3d_only)
    for i, spec in enumerate(args.also):
        plane, elevation, azimuth = spec.split(":")
        window.planning.plan3d.plane.setCurrentText(plane)
        view3d._gl.setCameraPosition(elevation=float(elevation), azimuth=float(azimuth))
        _wait(lambda: False, 1.0)
        corner = view3d.mapToGlobal(view3d.rect().topLeft())
        path = Path(args.out).with_name(f"{Path(args.out).stem}-{i + 1}.png")
        screen.grabWindow(0, corner.x(), corner.y(), view3d.width(), view3d.height()).save(str(path))
    size = window.size()
    print(f"window {size.width()}x{size.height()}, QT_SCALE_FACTOR={os.environ.get('QT_SCALE_FACTOR', '1')}")
    print("plan rows:", window.planning.measure_table.rows())
    window.session.set_case(None)
    app.processEvents()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
