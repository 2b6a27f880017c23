"""The scanner table of a phantom: where it sits, its curved or flat top, its layers, the scan circle.

The table touches the most posterior skin of a supine patient (the most anterior of a
prone one) and is drawn once as a 2D layer that every slice starts from.
"""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.phantom.grid import FineGrid
from kneeseg_app.core.phantom.params import PhantomParams
from kneeseg_app.core.phantom.sdf import ramp, smax
from kneeseg_app.core.phantom.soft import table_support


def table_height(body: np.ndarray, ys: np.ndarray, params: PhantomParams) -> float | None:
    """The legs rest on the table: its top sits a little above the lowest (most posterior) skin."""
    rows = np.nonzero((body < 0).any(axis=(0, 2)))[0]
    if rows.size == 0:
        return None
    if params.table.side < 0:  # prone: the table is in front of the patient
        return float(ys[rows.min()]) + params.table.compression_mm
    return float(ys[rows.max()]) - params.table.compression_mm


def support(xs: np.ndarray, ys: np.ndarray, params: PhantomParams, table_y: float) -> np.ndarray:
    """Signed distance to the table top, on whichever side of the patient the table is."""
    tab = params.table
    if tab.side < 0:
        return table_support(xs, -ys, tab.x_lps, -table_y, tab.radius)
    return table_support(xs, ys, tab.x_lps, table_y, tab.radius)


def background(grid: FineGrid, params: PhantomParams, table_y: float | None) -> tuple[np.ndarray, np.ndarray]:
    """Air with the table (and pad) drawn in: every slice starts from this image."""
    _, ny, nx = grid.shape
    t = params.tissues
    image = np.full((ny, nx), t.air, np.float32)
    mask = np.zeros((ny, nx), bool)
    tab = params.table
    if table_y is None:
        return image, mask
    xs = grid.axis(2, np.arange(nx))
    ys = grid.axis(1, np.arange(ny))
    width = params.acquisition.edge_width * min(grid.spacing[1], grid.spacing[2])
    radial = support(xs, ys, params, table_y)
    across = (np.abs(xs - tab.x_lps) - tab.half_width_mm).astype(np.float32)[None, :]
    top = tab.pad_mm
    layers = [
        (0.0, top, t.pad) if tab.pad_mm > 0 else None,
        (top, top + tab.thickness_mm, t.table_shell),
        (top + tab.shell_mm, top + tab.thickness_mm - tab.shell_mm, t.table_core),
    ]
    for layer in layers:
        if layer is None:
            continue
        inner, outer, value = layer
        shell = smax(smax(inner - radial, radial - outer, 0.5), across, 10.0)
        alpha = ramp(shell, width)
        image += alpha * (value - image)
        mask |= alpha > 0.5
    return image, mask


def fov_mask(grid: FineGrid, params: PhantomParams) -> np.ndarray | None:
    """Pixels outside the reconstruction circle (stored as padding by many scanners)."""
    if params.acquisition.padding_hu is None:
        return None
    _, ny, nx = grid.shape
    yy = (np.arange(ny) - (ny - 1) / 2.0) * grid.spacing[1]
    xx = (np.arange(nx) - (nx - 1) / 2.0) * grid.spacing[2]
    radius = min(nx * grid.spacing[2], ny * grid.spacing[1]) / 2.0
    return (yy[:, None] ** 2 + xx[None, :] ** 2) > radius * radius
