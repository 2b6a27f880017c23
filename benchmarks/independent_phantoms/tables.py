"""Patient tables, mattresses and knee cushions (EVALUATION ONLY, never training).

The table is drawn under the legs: its top is placed just below the most posterior
skin of the legs over their whole length (they rest on it), found by sampling the body
on a coarse grid. 'flat' is a sandwich board (thin dense shells around a foam core)
under a foam mattress; 'curved' is a carbon-fibre cradle whose sides rise; 'none' is
air. A flexed knee gets a foam wedge under it.
"""

from __future__ import annotations

import numpy as np

from benchmarks.independent_phantoms.leg_model import leg_fields
from benchmarks.independent_phantoms.params import Case
from benchmarks.independent_phantoms.shapes import coverage


def _body_points(case: Case, step: float = 5.0) -> list[np.ndarray]:
    """Per leg, the LPS points (n, 3) of a coarse grid that lie inside its skin."""
    out = []
    for leg in case.legs:
        kx, ky, kz = leg.knee_xyz
        xs = np.arange(kx - 160, kx + 160, step, dtype=np.float32)
        ys = np.arange(ky - 160, ky + 200, step, dtype=np.float32)
        zs = np.arange(kz - 380, kz + 380, step, dtype=np.float32)
        z, y, x = np.meshgrid(zs, ys, xs, indexing="ij")
        inside = leg_fields(leg, x, y, z).soft.body < 0
        out.append(np.stack([x[inside], y[inside], z[inside]], axis=1))
    return out


def _sag(x: np.ndarray, centre: float, radius: float) -> np.ndarray:
    """How far a cradle's surface rises (anteriorly, -y) at x; 0 for a flat table."""
    if radius <= 0:
        return np.zeros_like(x)
    return radius - np.sqrt(np.maximum(radius * radius - (x - centre) ** 2, 0.0))


def table_image(case: Case, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(rows, cols) HU image of the table under the legs (air elsewhere)."""
    rng = np.random.default_rng([case.seed, 4242, len(case.legs)])
    yy, xx = np.meshgrid(y.astype(np.float32), x.astype(np.float32), indexing="ij")
    img = np.full(yy.shape, -1000.0, dtype=np.float32)
    if case.scanner.table == "none":
        return img
    pixel = float(x[1] - x[0])
    points = _body_points(case)
    allpts = np.concatenate(points)
    centre = float(np.mean([leg.knee_xyz[0] for leg in case.legs])) if len(case.legs) > 1 else 0.0
    radius = rng.uniform(380, 520) if case.scanner.table == "curved" else 0.0
    top0 = float(np.max(allpts[:, 1] + _sag(allpts[:, 0], centre, radius)))
    mattress = rng.uniform(0, 35)
    top = top0 + mattress - _sag(xx, centre, radius)  # surface of the board under each column
    half_width = rng.uniform(200, 260)
    width = np.abs(xx - centre) - half_width
    core = rng.uniform(18, 45)
    shell = rng.uniform(1.5, 3.0)
    board = np.maximum(np.maximum(top - yy, yy - (top + core + 2 * shell)), width)
    foam = np.maximum(np.maximum(top + shell - yy, yy - (top + core + shell)), width + shell)
    img += coverage(board, pixel) * (rng.uniform(250, 500) - img)
    img += coverage(foam, pixel) * (rng.uniform(-960, -880) - img)
    if mattress > 3:
        pad = np.maximum(np.maximum(top - mattress - yy, yy - top), width + 10)
        img += coverage(pad, pixel) * (rng.uniform(-880, -780) - img)
        cover = np.maximum(np.abs(yy - (top - mattress)) - 0.8, width + 10)
        img += coverage(cover, pixel) * (-150.0 - img)
    for leg, pts in zip(case.legs, points):
        if leg.flexion_deg > 12 and pts.size:
            near = pts[np.abs(pts[:, 2] - leg.knee_xyz[2]) < 25]
            under = float(near[:, 1].max()) - 12 if near.size else top0
            wedge = np.maximum(np.maximum(under - yy, yy - (top - mattress)), np.abs(xx - leg.knee_xyz[0]) - 60)
            img += coverage(wedge, pixel) * (rng.uniform(-930, -800) - img)
    return img
