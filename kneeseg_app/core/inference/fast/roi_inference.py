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
from typing import TYPE_CHECKING

import numpy as np

from kneeseg_app.core.inference.fast.roi import (
    AxisMap,
    Box,
    dense_label_box,
    first_pass,
    grow,
    intersect,
    network_range,
    runs,
    slices_near_bone,
    touches_inner_edge,
    union,
)
from kneeseg_app.core.inference.fast.slice_stride import disagree, interpolate_slices, strided_slices
from kneeseg_app.core.inference.fast.window_io import SlabJob, network_input, window_labels
from kneeseg_app.core.inference.predict import RunContext, TileCounter, Window, make_window, predict_folds
from kneeseg_app.core.inference.preprocess import bbox_slices, normalized_range
from kneeseg_app.core.inference.sliding_window import compute_steps
from kneeseg_app.core.model.schema import Manifest

if TYPE_CHECKING:
    from kneeseg_app.core.inference.plan import CasePlan
    from kneeseg_app.core.inference.settings import ResolvedSettings

PROBE_MM = 10.0
"""Without any bone candidate, slices this far apart are run; bone the network finds there is followed."""
FALLBACK_SHARE = 0.7
"""Bone windows costing more than this share of the plain path (every slice over the body) are
not worth their overhead: the plain path runs instead."""


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
        self._bodies: list[Box | None] | None = None
        self._budget = 0
        self.capped = False
        """Whether the tile budget stopped a widening or a followed slab (the result may miss bone)."""
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

    def plan_jobs(
        self, plan: CasePlan, boxes: list[Box | None], bodies: list[Box | None] | None = None
    ) -> tuple[list[SlabJob], np.ndarray]:
        """Slab jobs for the slices to run, and which slices they are.

        Windows never reach beyond the body (``bodies``: per-slice outline boxes; None = the
        whole plane). When the bone windows would cost more than :data:`FALLBACK_SHARE` of
        running every slice over the body, every slice is run over the body instead.
        """
        n = plan.cropped_shape[0]
        self._bodies = bodies
        if bodies is not None and all(b is None for b in bodies):  # no patient at all (air): no bone either
            return [], np.ones(n, dtype=bool)
        plain = self._plain_jobs(plan)
        self._budget = sum(self._tiles(j) for j in plain)
        if all(b is None for b in boxes):  # the first pass found nothing: trust the network
            if not self.settings.skip_empty_slices:
                return plain, np.ones(n, dtype=bool)
            probes = np.zeros(n, dtype=bool)  # ... on probe slices; bone it finds is followed from there
            probes[:: max(1, int(round(PROBE_MM / plan.spacing[0])))] = True
            probes[-1] = True
            return [self.job(plan, a, b, self.region(plan, a, b)) for a, b in runs(probes, 1)], probes
        m = self.settings.roi_slice_margin
        flags = slices_near_bone(boxes, m) if self.settings.skip_empty_slices else np.ones(n, dtype=bool)
        jobs = []
        for start, stop in runs(flags, self._slab_length()):
            source = self.region(plan, start, stop)
            if self.settings.roi == "bones":
                around = union(boxes[max(start - m, 0) : stop + m])
                if around is not None:
                    source = intersect(grow(around, self._margin_px(plan), plan.cropped_shape[1:]), source)
            jobs.append(self.job(plan, start, stop, source))
        if sum(self._tiles(j) for j in jobs) > FALLBACK_SHARE * self._budget:
            return plain, np.ones(n, dtype=bool)
        return jobs, flags

    def _plain_jobs(self, plan: CasePlan) -> list[SlabJob]:
        """Every slice, over the body (the plain path, less the air and table beside the patient)."""
        flags = np.ones(plan.cropped_shape[0], dtype=bool)
        return [self.job(plan, a, b, self.region(plan, a, b)) for a, b in runs(flags, self._slab_length())]

    def region(self, plan: CasePlan, start: int, stop: int) -> Box:
        """The most a slab's window may cover: its slices' body outlines plus the margin (else the plane)."""
        _, h, w = plan.cropped_shape
        m = self.settings.roi_slice_margin
        around = None if self._bodies is None else union(self._bodies[max(start - m, 0) : stop + m])
        return (0, h, 0, w) if around is None else grow(around, self._margin_px(plan), (h, w))

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
            boxes, bodies = first_pass(cropped, plan.spacing[1:], settings.roi_threshold_hu, ctx.cancel)
            data_clip = None if plan.data_separate[0] else normalized_range(cropped, n.lower, n.upper, n.mean, n.std)
            jobs, done = self.plan_jobs(plan, boxes, bodies)
        counter = TileCounter(ctx.report, sum(self._tiles(j) for j in jobs))
        self._budget += counter.total
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
        """Run a job; if a bone reaches the window's edge, run the slab on its whole region (the body).

        Only labels on dense pixels count as bone there. When most slabs so far needed the
        region (a network that labels far outside the bones), the rest go to it straight
        away instead of twice. Never beyond the run's tile budget (:meth:`_afford`).
        """
        wide = self.region(plan, job.start, job.stop)
        most_widened = self._widened >= 2 and 2 * self._widened > self._slabs and job.source != wide
        if most_widened and self._afford(
            counter, self._tiles(self.job(plan, job.start, job.stop, wide)) - self._tiles(job)
        ):
            job = self.job(plan, job.start, job.stop, wide)
        self._slabs += 1
        slab_labels, slab_top = self._run(plan, cropped, job, data_clip, counter)
        y0, y1, x0, x1 = job.source
        hu = cropped[job.start : job.stop, y0:y1, x0:x1]
        if job.source != wide and touches_inner_edge(slab_labels, job.source, plan.cropped_shape[1:], hu):
            self._widened += 1
            widened = self.job(plan, job.start, job.stop, wide)
            if self._afford(counter, self._tiles(widened)):
                job = widened
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
        """Run skipped slices next to run slices that hold bone (labels on dense pixels), until none
        is left or the budget is spent; each over the box of that bone in its neighbours, widened
        by the margin (widened again to the body when the bone reaches its edge)."""
        n = plan.cropped_shape[0]
        step = max(self.settings.roi_slice_margin, 1)
        has_bone = np.zeros(n, dtype=bool)
        fresh = done.copy()
        while True:
            for i in np.flatnonzero(fresh):
                has_bone[i] = dense_label_box(out[i : i + 1], cropped[i : i + 1]) is not None
            grow_into = slices_near_bone([(0, 1, 0, 1) if b else None for b in has_bone], step) & ~done
            if not grow_into.any():
                return
            for start, stop in runs(grow_into, self._slab_length()):
                a, b = max(start - step, 0), min(stop + step, n)
                seen = dense_label_box(out[a:b], cropped[a:b])
                region = self.region(plan, start, stop)
                source = (
                    region
                    if seen is None
                    else intersect(grow(seen, self._margin_px(plan), plan.cropped_shape[1:]), region)
                )
                job = self.job(plan, start, stop, source)
                if not self._afford(counter, self._tiles(job)):
                    return
                self._run_checked(plan, cropped, out, job, data_clip, counter)
                done[start:stop] = True
            fresh = grow_into

    def _afford(self, counter: TileCounter, tiles: int) -> bool:
        """Add ``tiles`` to the run if the budget allows: the planned windows plus the plain path
        over the body, so a false positive can never cost more than one extra plain run."""
        if counter.total + tiles > self._budget:
            self.capped = True
            return False
        counter.total += tiles
        return True

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
            return window_labels(logits, job, maps, res.probabilities_order, ctx)

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
            image = network_input(cropped, job, maps, data_clip, picks, self.manifest, ctx)
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
            extra = [i for i in range(k) if i not in set(picks.tolist()) and disagree(labels, picks, i) > refine]
            if extra:
                counter.total += len(extra) * len(self.context.networks)
                logits[:, extra] = self._predict(cropped, job, maps, data_clip, np.array(extra), counter)
        return logits
