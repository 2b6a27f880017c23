"""What undo costs: memory held by the edit history on a full-size case (512 x 512 x 600).

Run:  PYTHONPATH=. python benchmarks/bench_editing.py [--out DIR] [--window]

The session: a knee-like label map (femur and tibia, uint8, 157 MB) with five loose
fragments, a CT (int16) for the HU limit, then 50 brush strokes as a user makes them
(drags of 25 points over ~60 mm in the three views, 2 to 8 mm brushes, painting and
erasing, some "only over bone", ten with the 3D sphere) and 5 island removals. All 55
steps stay undoable (max_undo=60). Reports the bytes the history holds, per kind of step,
next to what full copies would take, and checks that undoing all 55 steps gives the model
result back exactly. Writes bench_editing.md and bench_editing.csv into --out.
"""

from __future__ import annotations

import argparse
import csv
import resource
import statistics
import time
from pathlib import Path

import numpy as np

from kneeseg_app.core.editing import BrushShape, LabelEditor, PaintScope

SHAPE = (600, 512, 512)
SPACING = (1.0, 0.78, 0.78)  # mm, z y x
ISLANDS = [(150, 60, 60, 4), (420, 330, 80, 6), (300, 300, 320, 8), (520, 100, 300, 3), (80, 350, 350, 10)]
"""(z, y, x, radius mm) of loose fragments labelled femur, as a model leaves them."""


def add_ellipsoid(labels: np.ndarray, centre_mm, radii_mm, value: int) -> None:
    lo = [max(0, int((c - r) / s) - 1) for c, r, s in zip(centre_mm, radii_mm, SPACING)]
    hi = [min(n, int((c + r) / s) + 2) for c, r, s, n in zip(centre_mm, radii_mm, SPACING, labels.shape)]
    z, y, x = np.ogrid[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    inside = sum(((g * s - c) / r) ** 2 for g, s, c, r in zip((z, y, x), SPACING, centre_mm, radii_mm)) <= 1.0
    labels[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]][inside] = value


def make_case() -> tuple[np.ndarray, np.ndarray]:
    """(labels, ct): femur above, tibia below the joint at z = 300 mm, plus loose fragments."""
    labels = np.zeros(SHAPE, np.uint8)
    c = 200.0
    add_ellipsoid(labels, (450, c, c), (150, 24, 24), 1)  # femoral shaft
    for side in (-1, 1):
        add_ellipsoid(labels, (340, c + 5, c + side * 22), (35, 38, 24), 1)  # condyles
    add_ellipsoid(labels, (280, c, c), (18, 38, 48), 2)  # tibial plateau
    add_ellipsoid(labels, (140, c + 5, c), (140, 18, 18), 2)  # tibial shaft
    for z, y, x, r in ISLANDS:
        add_ellipsoid(labels, (z * SPACING[0], y * SPACING[1], x * SPACING[2]), (r, r, r), 1)
    ct = np.full(SHAPE, 40, dtype=np.int16)
    ct[labels > 0] = 700
    return labels, ct


def strokes(rng: np.random.Generator):
    """Endless strokes: (kind, brush, value, scope, points) across the bones' edges."""
    for i in range(10**6):
        axis = None if i % 5 == 4 else i % 3
        radius = float(rng.uniform(2.0, 8.0)) if axis is not None else 5.0
        value = 0 if i % 4 == 3 else int(rng.integers(1, 3))
        scope = PaintScope(hu_range=(200, 3000)) if i % 6 == 5 else PaintScope()
        centre_mm = np.array([rng.uniform(150, 450), 200 + rng.uniform(-15, 15), 200 + rng.uniform(-15, 15)])
        centre = centre_mm / np.array(SPACING)  # across a bone's edge, in voxels
        direction = rng.normal(size=3)
        if axis is not None:
            direction[axis] = 0
        direction *= 60.0 / np.linalg.norm(direction * np.array(SPACING))  # a ~60 mm drag
        points = [tuple(centre + t * direction) for t in np.linspace(-0.5, 0.5, 25)]
        kind = "3D brush" if axis is None else ("2D eraser" if value == 0 else "2D brush")
        yield kind, BrushShape(radius, axis), value, scope, points


def run() -> list[dict]:
    labels, ct = make_case()
    editor = LabelEditor(labels, SPACING, ct=ct, max_undo=60)
    rows = []
    for kind, brush, value, scope, points in strokes(np.random.default_rng(11)):
        if len(rows) == 50:
            break
        t0 = time.perf_counter()
        stroke = editor.begin_stroke(brush, value, scope)
        for p in points:
            stroke.add(p)
        count = editor.finish_stroke()
        if count == 0:
            continue  # e.g. erasing background: no undo step, as in the window
        rows.append(_row(kind, f"{brush.radius_mm:.1f}", count, editor, time.perf_counter() - t0))
    for z, y, x, r in ISLANDS:
        t0 = time.perf_counter()
        count = editor.remove_island((z, y, x))
        rows.append(_row("island removal", f"{r:.1f}", count, editor, time.perf_counter() - t0))
    assert editor.history.undo_count == 55, [(r["kind"], r["voxels"]) for r in rows]
    total = editor.history.nbytes
    t0 = time.perf_counter()
    while editor.undo():
        pass
    undo_all = time.perf_counter() - t0
    assert np.array_equal(editor.labels, labels), "undo did not give the model result back"
    assert editor.history.nbytes == total
    t0 = time.perf_counter()
    count = editor.remove_island((450, 256, 256))  # the whole femur: the largest single step a user makes
    whole_bone = _row("whole femur removed (extra)", "", count, editor, time.perf_counter() - t0)
    rows.append(
        {
            "kind": "TOTAL (55 steps)",
            "radius_mm": "",
            "voxels": sum(r["voxels"] for r in rows),
            "bytes": total,
            "seconds": undo_all,
        }
    )
    return rows + [whole_bone]


def _row(kind: str, radius: str, count: int, editor: LabelEditor, seconds: float) -> dict:
    step = editor.history._undo[-1] if count else None
    return {
        "kind": kind,
        "radius_mm": radius,
        "voxels": count,
        "bytes": step.diff.nbytes if step else 0,
        "seconds": seconds,
    }


def report(rows: list[dict], out: Path) -> str:
    steps, total, whole_bone = rows[:-2], rows[-2], rows[-1]
    copy_bytes = int(np.prod(SHAPE))
    lines = [
        f"Volume {SHAPE[2]} x {SHAPE[1]} x {SHAPE[0]} uint8 ({copy_bytes / 1e6:.0f} MB a full copy), "
        f"spacing {SPACING[2]} x {SPACING[1]} x {SPACING[0]} mm.",
        "",
        "| step kind | steps | voxels changed (median) | bytes held (median) | bytes held (sum) | seconds (median) |",
        "|---|---|---|---|---|---|",
    ]
    for kind in dict.fromkeys(r["kind"] for r in steps):
        part = [r for r in steps if r["kind"] == kind]
        lines.append(
            f"| {kind} | {len(part)} | {statistics.median(r['voxels'] for r in part):,.0f} | "
            f"{statistics.median(r['bytes'] for r in part):,.0f} | {sum(r['bytes'] for r in part):,} | "
            f"{statistics.median(r['seconds'] for r in part):.3f} |"
        )
    lines += [
        "",
        f"**Undo history for all 55 steps: {total['bytes'] / 1e6:.2f} MB** for {total['voxels']:,} changed voxels "
        f"({total['bytes'] / max(total['voxels'], 1):.2f} bytes a voxel), against "
        f"{55 * copy_bytes / 1e9:.1f} GB as full copies. Undoing all 55 steps: {total['seconds']:.2f} s, "
        "result identical to the model's. Peak RSS of the run: "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB (labels, model copy, CT).",
        "",
        f"Largest single step, for scale: removing the whole femur ({whole_bone['voxels']:,} voxels) holds "
        f"{whole_bone['bytes'] / 1e6:.2f} MB (bounding-box bit mask) and took {whole_bone['seconds']:.2f} s.",
    ]
    text = "\n".join(lines)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench_editing.md").write_text(text + "\n", encoding="utf-8")
    with open(out / "bench_editing.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return text


def paint_latency(moves: int = 40) -> str:
    """Milliseconds per mouse move of a 5 mm brush drag in the three linked views (Qt, offscreen)."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from kneeseg_app.core.volume import Volume
    from kneeseg_app.ui.app import configure_pyqtgraph
    from kneeseg_app.ui.controllers.editing import EditController, EditTool
    from kneeseg_app.ui.state.display_geometry import AXIAL
    from kneeseg_app.ui.state.viewer_state import ViewerState
    from kneeseg_app.ui.widgets.viewer_panel import ViewerPanel

    configure_pyqtgraph()
    labels, ct = make_case()
    state = ViewerState()
    panel = ViewerPanel(state)
    panel.resize(1200, 900)
    panel.show()
    volume = Volume(ct, SPACING)
    state.set_volume(volume)
    editor = LabelEditor(labels, SPACING, ct=ct)
    state.set_labels(volume.with_array(editor.labels))
    controller = EditController(state)
    controller.attach(editor)
    controller.labelsChanged.connect(lambda event: state.labels_edited(event.box))
    controller.update(tool=EditTool.BRUSH, radius_mm=5.0, active_label=2)
    app.processEvents()
    z = state.cursor[0]
    controller.pointer_press(AXIAL, (float(z), 150.0, 150.0))
    times = []
    for i in range(moves):
        t0 = time.perf_counter()
        controller.pointer_move(AXIAL, (float(z), 150.0 + 2 * i, 150.0 + 2 * i))
        app.processEvents()
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    controller.pointer_release(AXIAL)
    app.processEvents()
    release = time.perf_counter() - t0
    return (
        f"Painting in the window ({SHAPE[2]} x {SHAPE[1]} x {SHAPE[0]}, {moves} moves of a 5 mm brush, "
        f"QT_QPA_PLATFORM={__import__('os').environ.get('QT_QPA_PLATFORM', '')}): "
        f"median {1000 * statistics.median(times):.1f} ms a move (max {1000 * max(times):.1f}), "
        f"release (one undo step) {1000 * release:.1f} ms."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    parser.add_argument("--window", action="store_true", help="also time painting in the Qt views")
    args = parser.parse_args()
    print(report(run(), args.out))
    if args.window:
        print()
        print(paint_latency())


if __name__ == "__main__":
    main()
