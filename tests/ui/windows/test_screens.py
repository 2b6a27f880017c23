"""The window on a 1366 x 768 laptop and on a 1920 x 1080 screen at 150 %: every control of the
Segment tab on screen, the views still usable. Screenshots are kept in test-artifacts/ui/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
PROBE = Path(__file__).with_name("screen_probe.py")


def run_probe(tmp_path: Path, width: int, height: int, scale: float) -> dict:
    config = tmp_path / "screen.json"
    screen = {"name": "s", "x": 0, "y": 0, "width": width, "height": height, "logicalDpi": 96}
    config.write_text(json.dumps({"screens": [{**screen, "logicalBaseDpi": 96, "dpr": 1}]}))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    png = ARTIFACTS / f"window_{width}x{height}_scale{scale:g}.png"
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={config}", "QT_SCALE_FACTOR": str(scale)}
    done = subprocess.run(
        [sys.executable, str(PROBE), str(png)], env=env, capture_output=True, text=True, timeout=240, cwd=ROOT
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("REPORT ")]
    assert done.returncode == 0 and lines, done.stderr[-3000:]
    assert png.exists()
    return json.loads(lines[-1][len("REPORT ") :])


@pytest.mark.parametrize(("width", "height", "scale"), [(1366, 768, 1.0), (1920, 1080, 1.5)])
def test_every_segment_control_is_on_screen_and_the_views_stay_usable(tmp_path, width, height, scale) -> None:
    report = run_probe(tmp_path, width, height, scale)
    sx, sy, sw, sh = report["screen"]
    x, y, w, h = report["frame"]
    assert sx <= x and sy <= y and x + w <= sx + sw and y + h <= sy + sh, report
    names = {c["name"] for c in report["controls"]}
    assert {"segment", "segment_progress", "threads", "tta"} <= names
    cut = [c for c in report["controls"] if not (c["inside_window"] and c["reachable"])]
    assert not cut, cut
    run_controls = [
        c for c in report["controls"] if c["name"] in ("segment", "cancel_segmentation", "segment_progress")
    ]
    assert len(run_controls) == 3 and not any(c["in_scroll_area"] for c in run_controls)  # never scrolled away
    assert report["segment_enabled"]
    assert min(report["axial_view"]) >= 250, report["axial_view"]
