"""The bone-window path of 2D inference: a speed option of the model package.

nnU-Net runs every tile of every slice. Here a cheap first pass (:mod:`.roi`) finds the
bones; each slab of slices is then resampled, run through the network and resampled
back only inside a window around them, and slices far from bone are not run at all.
Work and memory scale with the bones, not with the field of view.

Safeguards that make a missed box cost time rather than bone:

* a slab whose labels touch its window's edge (inside the image) is run again on
  the whole plane;
* a skipped slice next to a run slice with bone in it is run too (repeatedly), so a
  bone is followed to its end even where the first pass lost it;
* if the first pass finds no bone anywhere, every slice is run on the whole plane.

The network, the normalisation, the resampling orders and the sliding window are the
package's (nnU-Net's); only where they are applied changes. benchmarks/README.md
gives the measured cost in Dice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kneeseg_app.core.inference.fast.roi import (
    AxisMap,
    Box,
    bone_boxes,
    grow,
    input_range,
    network_range,
    runs,
    slices_near_bone,
    union,
)
from kneeseg_app.core.inference.predict import RunContext, TileCounter, TopClass, Window, make_window, predict_folds
from kneeseg_app.core.inference.preprocess import bbox_slices, ct_normalize, map_slices, normalized_range, zoom_window
from kneeseg_app.core.inference.sliding_window import compute_steps
from kneeseg_app.core.model.schema import Manifest, Normalization

if TYPE_CHECKING:
    from kneeseg_app.core.inference.plan import CasePlan
    from kneeseg_app.core.inference.settings import ResolvedSettings

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


class BoneWindowPath:
    """Segments a case's 2D slabs inside bone windows (see the module docstring)."""

    def __init__(self, manifest: Manifest, settings: ResolvedSettings, n_labels: int, context: RunContext) -> None:
        self.manifest = manifest
        self.settings = settings
        self.n_labels = n_labels
        self.context = context
        self._windows: dict[tuple[int, int], Window] = {}
        self._slabs = 0
        self._widened = 0
        self._top: np.ndarray | None = None

    # ----- planning -----------------------------------------------------------
    def _maps(self, plan: CasePlan) -> tuple[AxisMap, AxisMap]:
        _, h, w = plan.cropped_shape
        return AxisMap(h, plan.resampled_shape[1]), AxisMap(w, plan.resampled_shape[2])

    def _margin_px(self, plan: CasePlan) -> tuple[int, int]:
        return tuple(int(np.ceil(self.settings.roi_margin_mm / s)) for s in plan.spacing[1:])  # type: ignore[return-value]

    def job(self, plan: CasePlan, start: int, stop: int, source: Box) -> SlabJob:
        """The slab job for ``source`` (the network window follows from it)."""
        maps = self._maps(plan)
        if self.settings.roi_tiling == "grid":
            return self._grid_job(maps, start, stop, source)
        div = self.manifest.input.divisibility
        patch = self.manifest.input.patch_size
        least = self.settings.roi_min_size
        window = tuple(
            network_range((source[2 * a], source[2 * a + 1]), maps[a], div[a], patch[a], least[a]) for a in range(2)
        )
        return SlabJob(start, stop, source, window)  # type: ignore[arg-type]

    def _grid_job(self, maps: tuple[AxisMap, AxisMap], start: int, stop: int, source: Box) -> SlabJob:
        """nnU-Net's tiles of the whole (padded) plane that reach the source box, and their extent.

        Every tile covering a pixel of the box is run, so inside the box the logits are
        nnU-Net's (same tiles, same Gaussian weights, same weight sums).
        """
        window, steps = [], []
        for a in range(2):
            axis, patch = maps[a], self.manifest.input.patch_size[a]
            pad_lo, padded = max(patch - axis.n_out, 0) // 2, max(axis.n_out, patch)
            lo = math.floor(axis.to_out(source[2 * a])) - 2 + pad_lo
            hi = math.ceil(axis.to_out(source[2 * a + 1] - 1)) + 3 + pad_lo
            full = compute_steps([padded], [patch], self.settings.tile_step_size)[0]
            chosen = [s for s in full if s < hi and lo < s + patch] or [min(full, key=lambda s: abs(s - lo))]
            window.append((chosen[0] - pad_lo, chosen[-1] + patch - pad_lo))
            steps.append(tuple(s - chosen[0] for s in chosen))
        return SlabJob(start, stop, source, tuple(window), tuple(steps))  # type: ignore[arg-type]

    def plan_jobs(self, plan: CasePlan, boxes: list[Box | None]) -> tuple[list[SlabJob], np.ndarray]:
        """Slab jobs for the slices to run, and which slices they are."""
        n, h, w = plan.cropped_shape
        full: Box = (0, h, 0, w)
        if all(b is None for b in boxes):  # the first pass found nothing: trust the network
            boxes = [full] * n
        m = self.settings.roi_slice_margin
        flags = slices_near_bone(boxes, m) if self.settings.skip_empty_slices else np.ones(n, dtype=bool)
        jobs = []
        for start, stop in runs(flags, self._slab_length()):
            source = full
            if self.settings.roi == "bones":
                around = union(boxes[max(start - m, 0) : stop + m])
                source = full if around is None else grow(around, self._margin_px(plan), (h, w))
            jobs.append(self.job(plan, start, stop, source))
        return jobs, flags

    def _slab_length(self) -> int:
        """Slab length; with a slice stride s, a multiple of s plus one (both ends are run)."""
        s = self.settings.slice_stride
        return max(((self.settings.slab_slices - 1) // s) * s + 1, 1) if s > 1 else self.settings.slab_slices

    def _window_for(self, job: SlabJob, maps: tuple[AxisMap, AxisMap] | None = None) -> Window:
        key = (job.window_shape, job.grid_steps, job.window if job.grid_steps else None)
        if key not in self._windows:
            inf = self.manifest.inference
            if job.grid_steps is None:
                shape = job.window_shape
                patch = tuple(min(p, s) for p, s in zip(self.manifest.input.patch_size, shape))
                self._windows[key] = make_window(
                    shape,
                    patch,
                    self.settings.tile_step_size,
                    self.settings.gaussian,
                    inf.gaussian_sigma_scale,
                    self.n_labels,
                )
            else:
                assert maps is not None
                self._windows[key] = self._grid_window(job, maps)
        return self._windows[key]

    def _grid_window(self, job: SlabJob, maps: tuple[AxisMap, AxisMap]) -> Window:
        """The whole plane's tiling restricted to ``job``'s tiles (weights: the whole plane's sums)."""
        inf = self.manifest.inference
        patch = tuple(self.manifest.input.patch_size)
        padded = [max(m.n_out, p) for m, p in zip(maps, patch)]
        whole = make_window(
            padded, patch, self.settings.tile_step_size, self.settings.gaussian, inf.gaussian_sigma_scale, self.n_labels
        )
        pad_lo = [max(p - m.n_out, 0) // 2 for m, p in zip(maps, patch)]
        (y0, y1), (x0, x1) = ((lo + o, hi + o) for (lo, hi), o in zip(job.window, pad_lo))
        assert job.grid_steps is not None
        return Window(
            patch, [list(s) for s in job.grid_steps], whole.gaussian, whole.weights[y0:y1, x0:x1].copy(), self.n_labels
        )

    def _tiles(self, job: SlabJob) -> int:
        if job.grid_steps is not None:
            slices = len(strided_slices(job.stop - job.start, self.settings.slice_stride))
            return slices * len(job.grid_steps[0]) * len(job.grid_steps[1]) * len(self.context.networks)
        window = self._window_for(job)
        slices = len(strided_slices(job.stop - job.start, self.settings.slice_stride))
        return slices * len(window.steps[0]) * len(window.steps[1]) * len(self.context.networks)

    # ----- running --------------------------------------------------------------
    def segment(self, plan: CasePlan, source: np.ndarray, labels: np.ndarray) -> None:
        """Label the cropped network view of ``labels`` from the CT ``source``."""
        ctx, settings = self.context, self.settings
        cropped = plan.network_view(source)[bbox_slices(plan.crop)]
        out = plan.network_view(labels)[bbox_slices(plan.crop)]
        self._top = None if self.context.top is None else plan.network_view(self.context.top)[bbox_slices(plan.crop)]
        n = self.manifest.normalization
        with ctx.clock("prepare"):
            boxes = bone_boxes(cropped, plan.spacing[1:], settings.roi_threshold_hu, ctx.cancel)
            data_clip = None if plan.data_separate[0] else normalized_range(cropped, n.lower, n.upper, n.mean, n.std)
            jobs, done = self.plan_jobs(plan, boxes)
        counter = TileCounter(ctx.report, sum(self._tiles(j) for j in jobs))
        for job in jobs:
            self._run_checked(plan, cropped, out, job, data_clip, counter)
        if settings.skip_empty_slices:
            self._follow_bone(plan, cropped, out, done, data_clip, counter)

    def _run_checked(
        self,
        plan: CasePlan,
        cropped: np.ndarray,
        out: np.ndarray,
        job: SlabJob,
        data_clip: tuple[float, float] | None,
        counter: TileCounter,
    ) -> None:
        """Run a job; if a bone reaches the window's edge, run the slab on the whole plane.

        When most slabs so far needed that (a network that labels far outside the bones),
        the rest go to the whole plane straight away instead of twice.
        """
        _, h, w = plan.cropped_shape
        full: Box = (0, h, 0, w)
        if self._widened >= 2 and 2 * self._widened > self._slabs and job.source != full:
            counter.total += self._tiles(self.job(plan, job.start, job.stop, full)) - self._tiles(job)
            job = self.job(plan, job.start, job.stop, full)
        self._slabs += 1
        slab_labels, slab_top = self._run(plan, cropped, job, data_clip, counter)
        if touches_inner_edge(slab_labels, job.source, (h, w)):
            self._widened += 1
            job = self.job(plan, job.start, job.stop, full)
            counter.total += self._tiles(job)
            slab_labels, slab_top = self._run(plan, cropped, job, data_clip, counter)
        y0, y1, x0, x1 = job.source
        out[job.start : job.stop, y0:y1, x0:x1] = slab_labels
        if self._top is not None and slab_top is not None:
            self._top[job.start : job.stop, y0:y1, x0:x1] = slab_top

    def _follow_bone(
        self,
        plan: CasePlan,
        cropped: np.ndarray,
        out: np.ndarray,
        done: np.ndarray,
        data_clip: tuple[float, float] | None,
        counter: TileCounter,
    ) -> None:
        """Run skipped slices next to run slices that hold bone, until none is left."""
        n, h, w = plan.cropped_shape
        step = max(self.settings.roi_slice_margin, 1)
        while True:
            has_bone = np.array([bool(done[i]) and bool(out[i].any()) for i in range(n)])
            grow_into = slices_near_bone([(0, 1, 0, 1) if b else None for b in has_bone], step) & ~done
            if not grow_into.any():
                return
            for start, stop in runs(grow_into, self._slab_length()):
                job = self.job(plan, start, stop, (0, h, 0, w))
                counter.total += self._tiles(job)
                self._run_checked(plan, cropped, out, job, data_clip, counter)
                done[start:stop] = True

    def _run(
        self,
        plan: CasePlan,
        cropped: np.ndarray,
        job: SlabJob,
        data_clip: tuple[float, float] | None,
        counter: TileCounter,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Labels (k, h, w) of ``job.source`` for the job's slices, and their top-class probability bytes."""
        ctx = self.context
        maps = self._maps(plan)
        res = self.manifest.resampling
        ctx.cancel.raise_if_cancelled()
        k = job.stop - job.start
        picks = strided_slices(k, self.settings.slice_stride)
        logits = self._predict(cropped, job, maps, data_clip, picks, counter)
        if len(picks) < k:
            logits = self._fill_between(cropped, job, maps, data_clip, picks, logits, counter)
        with ctx.clock("resample_back"):
            return self._labels(logits, job, maps, res.probabilities_order)

    def _predict(
        self,
        cropped: np.ndarray,
        job: SlabJob,
        maps: tuple[AxisMap, AxisMap],
        data_clip: tuple[float, float] | None,
        picks: np.ndarray,
        counter: TileCounter,
    ) -> np.ndarray:
        """Logits (C, len(picks), window) of the job's slices ``picks`` (offsets in the slab)."""
        ctx = self.context
        with ctx.clock("preprocess"):
            image = self._network_input(cropped, job, maps, data_clip, picks)
        window = self._window_for(job, maps)
        return predict_folds(ctx.networks, ctx.predictor, image, window, 2, self.settings.batch_size, None, counter)

    def _fill_between(
        self,
        cropped: np.ndarray,
        job: SlabJob,
        maps: tuple[AxisMap, AxisMap],
        data_clip: tuple[float, float] | None,
        picks: np.ndarray,
        computed: np.ndarray,
        counter: TileCounter,
    ) -> np.ndarray:
        """Logits of every slab slice: run slices linearly interpolated, except where the run
        neighbours disagree too much (``slice_refine``): those are run too."""
        k = job.stop - job.start
        logits = interpolate_slices(computed, picks, k)
        refine = self.settings.slice_refine
        if refine > 0:
            labels = computed.argmax(axis=0)
            extra = [i for i in range(k) if i not in set(picks.tolist()) and _disagree(labels, picks, i) > refine]
            if extra:
                counter.total += len(extra) * len(self.context.networks)
                logits[:, extra] = self._predict(cropped, job, maps, data_clip, np.array(extra), counter)
        return logits

    def _network_input(
        self,
        cropped: np.ndarray,
        job: SlabJob,
        maps: tuple[AxisMap, AxisMap],
        data_clip: tuple[float, float] | None,
        picks: np.ndarray,
    ) -> np.ndarray:
        """Normalised, resampled CT of the job's network window (zeros outside the image)."""
        order = self.manifest.resampling.data_order
        reach = SPLINE_REACH if order > 1 else 2
        (iy0, iy1), (ix0, ix1) = (input_range(job.window[a], maps[a], reach) for a in range(2))
        n = self.manifest.normalization
        slices = job.start + np.asarray(picks)
        raw = np.stack([np.asarray(cropped[z, iy0:iy1, ix0:ix1], dtype=np.float32) for z in slices])
        normalized = ct_normalize(raw, n.lower, n.upper, n.mean, n.std)
        if data_clip is None:  # nnU-Net's separate-z path clips each slice to its own range
            return _zoom_per_slice_range(
                normalized, cropped, slices, job.window, (iy0, ix0), maps, order, n, self.context
            )
        return zoom_window(
            normalized, (iy0, ix0), maps, job.window, order, data_clip, self.context.cancel, self.context.pool
        )

    def _labels(
        self, logits: np.ndarray, job: SlabJob, maps: tuple[AxisMap, AxisMap], order: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Logits (C, k, window) resampled to ``job.source`` and arg-maxed, slice by slice (with the
        top-class probability bytes when the run records them)."""
        y0, y1, x0, x1 = job.source
        back = (AxisMap(maps[0].n_out, maps[0].n_in), AxisMap(maps[1].n_out, maps[1].n_in))
        start = (job.window[0][0], job.window[1][0])
        target = ((y0, y1), (x0, x1))
        k = logits.shape[1]
        out = np.zeros((k, y1 - y0, x1 - x0), dtype=np.uint8)
        top = None if self.context.top is None else np.empty_like(out)
        cancel = self.context.cancel

        def one(i: int) -> None:
            cancel.raise_if_cancelled()
            running = TopClass(out[i], None if top is None else top[i])
            for c in range(logits.shape[0]):
                running.add(zoom_window(logits[c, i : i + 1], start, back, target, order)[0], c)
            running.finish()

        map_slices(one, k, self.context.pool)
        return out, top


def strided_slices(k: int, stride: int) -> np.ndarray:
    """Offsets of the slices run in a slab of ``k``: every ``stride``-th, and always the last."""
    picks = list(range(0, k, max(stride, 1)))
    if picks[-1] != k - 1:
        picks.append(k - 1)
    return np.array(picks)


def interpolate_slices(computed: np.ndarray, picks: np.ndarray, k: int) -> np.ndarray:
    """(C, k, ...) logits, linear along the slices between the run ones (``picks``, sorted)."""
    out = np.empty((computed.shape[0], k, *computed.shape[2:]), dtype=np.float32)
    out[:, picks] = computed
    for j in range(len(picks) - 1):
        a, b = int(picks[j]), int(picks[j + 1])
        for i in range(a + 1, b):
            w = (i - a) / (b - a)
            np.multiply(computed[:, j], 1 - w, out=out[:, i])
            out[:, i] += w * computed[:, j + 1]
    return out


def _disagree(labels: np.ndarray, picks: np.ndarray, i: int) -> float:
    """Fraction of the bone pixels of slice ``i``'s two run neighbours on which they disagree."""
    j = int(np.searchsorted(picks, i)) - 1
    a, b = labels[j], labels[j + 1]
    bone = int(((a > 0) | (b > 0)).sum())
    return float((a != b).sum()) / bone if bone else 0.0


def _zoom_per_slice_range(
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


def touches_inner_edge(labels: np.ndarray, source: Box, plane: tuple[int, int]) -> bool:
    """Whether any foreground label lies on a window edge that is not the image's edge."""
    y0, y1, x0, x1 = source
    h, w = plane
    edges = []
    if y0 > 0:
        edges.append(labels[:, 0, :])
    if y1 < h:
        edges.append(labels[:, -1, :])
    if x0 > 0:
        edges.append(labels[:, :, 0])
    if x1 < w:
        edges.append(labels[:, :, -1])
    return any(bool(e.any()) for e in edges)
