"""One slab's window of the bone-window path: CT to network input, logits back to labels.

The network, normalisation and resampling orders are the package's (nnU-Net's); only the
region they are applied to is the window's (:class:`SlabJob`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.inference.fast.roi import AxisMap, Box, input_range
from kneeseg_app.core.inference.predict import RunContext, TopClass
from kneeseg_app.core.inference.preprocess import ct_normalize, map_slices, zoom_window
from kneeseg_app.core.model.schema import Manifest, Normalization

SPLINE_REACH = 12
"""Extra input pixels around a window for spline orders > 1 (prefilter edge effect < 1e-6)."""


@dataclass(frozen=True)
class SlabJob:
    """One slab: its slices, the part of the plane it labels, the network window."""

    start: int
    stop: int
    source: Box
    """Labelled region of the cropped plane (source pixels)."""
    window: tuple[tuple[int, int], tuple[int, int]]
    """Network input region in resampled pixels (may reach outside the image: padding)."""
    grid_steps: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    """'grid' tiling: tile offsets inside the window (a part of nnU-Net's whole-plane grid)."""

    @property
    def window_shape(self) -> tuple[int, int]:
        return (self.window[0][1] - self.window[0][0], self.window[1][1] - self.window[1][0])


def network_input(
    cropped: np.ndarray,
    job: SlabJob,
    maps: tuple[AxisMap, AxisMap],
    data_clip: tuple[float, float] | None,
    picks: np.ndarray,
    manifest: Manifest,
    context: RunContext,
) -> np.ndarray:
    """Normalised, resampled CT of the job's network window (zeros outside the image)."""
    order = manifest.resampling.data_order
    reach = SPLINE_REACH if order > 1 else 2
    (iy0, iy1), (ix0, ix1) = (input_range(job.window[a], maps[a], reach) for a in range(2))
    n = manifest.normalization
    slices = job.start + np.asarray(picks)
    raw = np.stack([np.asarray(cropped[z, iy0:iy1, ix0:ix1], dtype=np.float32) for z in slices])
    normalized = ct_normalize(raw, n.lower, n.upper, n.mean, n.std)
    if data_clip is None:  # nnU-Net's separate-z path clips each slice to its own range
        return zoom_per_slice_range(normalized, cropped, slices, job.window, (iy0, ix0), maps, order, n, context)
    return zoom_window(normalized, (iy0, ix0), maps, job.window, order, data_clip, context.cancel, context.pool)


def window_labels(
    logits: np.ndarray, job: SlabJob, maps: tuple[AxisMap, AxisMap], order: int, context: RunContext
) -> tuple[np.ndarray, np.ndarray | None]:
    """Logits (C, k, window) resampled to ``job.source`` and arg-maxed, slice by slice (with the
    top-class probability bytes when the run records them)."""
    y0, y1, x0, x1 = job.source
    back = (AxisMap(maps[0].n_out, maps[0].n_in), AxisMap(maps[1].n_out, maps[1].n_in))
    start = (job.window[0][0], job.window[1][0])
    target = ((y0, y1), (x0, x1))
    k = logits.shape[1]
    out = np.zeros((k, y1 - y0, x1 - x0), dtype=np.uint8)
    top = None if context.top is None else np.empty_like(out)
    cancel = context.cancel

    def one(i: int) -> None:
        cancel.raise_if_cancelled()
        running = TopClass(out[i], None if top is None else top[i])
        for c in range(logits.shape[0]):
            running.add(zoom_window(logits[c, i : i + 1], start, back, target, order)[0], c)
        running.finish()

    map_slices(one, k, context.pool)
    return out, top


def zoom_per_slice_range(
    normalized: np.ndarray,
    cropped: np.ndarray,
    slices: np.ndarray,
    window: tuple[tuple[int, int], tuple[int, int]],
    start: tuple[int, int],
    maps: tuple[AxisMap, AxisMap],
    order: int,
    n: Normalization,
    context: RunContext,
) -> np.ndarray:
    """Window zoom clipped to each whole slice's normalised range (nnU-Net's separate-z rule)."""
    shape = (window[0][1] - window[0][0], window[1][1] - window[1][0])
    out = np.empty((normalized.shape[0], *shape), dtype=np.float32)

    def one(i: int) -> None:
        context.cancel.raise_if_cancelled()
        plane = cropped[slices[i]]
        lo, hi = float(plane.min()), float(plane.max())
        ends = ct_normalize(np.array([lo, hi], dtype=np.float32), n.lower, n.upper, n.mean, n.std)
        out[i] = zoom_window(normalized[i : i + 1], start, maps, window, order, (float(ends[0]), float(ends[1])))[0]

    map_slices(one, normalized.shape[0], context.pool)
    return out
