"""The segmentation engine: nnU-Net v2 inference reproduced with onnxruntime and numpy.

Order of operations (nnU-Net's, see ``nnunetv2.inference.predict_from_raw_data`` and
``export_prediction``), each a function of :mod:`.preprocess` / :mod:`.predict`:

  canonical orientation (views) -> transpose_forward (view) -> crop to nonzero ->
  CT normalisation -> resample to the target spacing -> pad to the patch ->
  sliding window (Gaussian-weighted, optional mirroring TTA; folds averaged as logits)
  -> unpad -> resample logits to the cropped shape -> argmax -> un-crop ->
  transpose_backward / original orientation (the same views, written through) ->
  the package's post-processing.

With ``SegmentOptions(exact=True)`` the result is nnU-Net's. 2D networks see single
slices and nnU-Net keeps the slice spacing, so slabs of slices can be run start to
finish one after another: memory stays bounded (no float32 logits of the whole volume)
and the result is the same. Volumes whose resampling would couple slices fall back to
the whole-volume path (3D networks too).

The model package's ``inference`` section may ask for speed options that change the
result slightly (measured in benchmarks/README.md): the network runs only on windows
around the bones (:mod:`.roi`, :mod:`.roi_inference`), slices far from bone are not
run, an int8 copy of the network is used, and near-target spacings are not resampled.
They are the engine's defaults for such a package; ``exact=True`` turns them all off.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from kneeseg_app.core.inference.bone_layout import apply_bone_layout
from kneeseg_app.core.inference.plan import CasePlan, plan_case, slab_path_is_exact
from kneeseg_app.core.inference.postprocess import apply_postprocessing, volumes_ml
from kneeseg_app.core.inference.predict import (
    MonotoneProgress,
    Predictor,
    RunContext,
    StageClock,
    TileCounter,
    TopClass,
    Window,
    make_window,
    predict_folds,
    tiles_for,
)
from kneeseg_app.core.inference.preprocess import (
    bbox_slices,
    body_box_2d,
    ct_normalize,
    map_slices,
    normalized_range,
    normalized_value,
    pad_to_min_shape,
    resample_to_shape,
    resize_slices,
)
from kneeseg_app.core.inference.result import PostprocessOutcome, SegmentationResult
from kneeseg_app.core.inference.settings import SegmentOptions, resolve_settings
from kneeseg_app.core.inference.survey import spread_slices, survey_step, surveyed_slices
from kneeseg_app.core.inference.threads import thread_pool
from kneeseg_app.core.model.package import ModelPackage, OnnxNetwork
from kneeseg_app.core.model.schema import Manifest
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress, scaled
from kneeseg_app.core.volume import Volume

__all__ = ["SegmentOptions", "SegmentationResult", "Segmenter"]

BODY_HU = -500.0
"""Tissue threshold of the opt-in air-tile skipping."""


# ----------------------------------------------------------------------------
# the segmenter
# ----------------------------------------------------------------------------
class Segmenter:
    """Segments CT volumes with one model package; reuse it for several volumes.

    Networks are opened (checksums verified) on the first :meth:`run`, in the calling
    thread, so building a Segmenter on the UI thread costs nothing.
    """

    def __init__(self, package: ModelPackage, options: SegmentOptions = SegmentOptions()) -> None:
        self.package = package
        self.options = options
        self.settings = resolve_settings(package.manifest, options)
        self._networks: list[OnnxNetwork] | None = None

    @property
    def manifest(self) -> Manifest:
        return self.package.manifest

    def networks(self) -> list[OnnxNetwork]:
        """The opened networks (opens them on first use; ModelError if a file is bad)."""
        if self._networks is None:
            self._networks = self.package.open_networks(self.settings.threads, self.settings.precision)
        return self._networks

    def run(
        self, volume: Volume, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> SegmentationResult:
        """Segment ``volume``; the label map is on the volume's own grid. A long scan is surveyed first
        (:mod:`.survey`): without a knee joint there it comes back empty at the survey's cost."""
        cancel = cancel or CancelToken()
        started = time.perf_counter()
        stopped, share = self.survey_scan(volume, progress, cancel) if self.settings.survey else (None, 0.0)
        if stopped is not None:
            return stopped
        result = self._run(volume, scaled(progress, share, 1.0), cancel, self.settings.postprocess)
        result.seconds = time.perf_counter() - started
        return result

    def survey_scan(
        self, volume: Volume, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> tuple[SegmentationResult | None, float]:
        """The survey of ``volume`` (with the anatomy rule, whatever the options): the empty result when it
        stops the scan for a firm reason, else None; and the share of a whole run it cost."""
        step = self._survey_step(volume)
        if not step:
            return None, 0.0
        result, firm = self.survey(volume, step, scaled(progress, 0.0, 1.0 / step), cancel)
        if not (result.no_knee and firm):
            return None, 1.0 / step
        progress("Done: no knee", 1.0)
        return result, 1.0 / step

    def survey_step(self, volume: Volume) -> int:
        """Every how many slices this run first surveys ``volume`` (0: no survey; see :mod:`.survey`)."""
        return self._survey_step(volume) if self.settings.survey else 0

    def _survey_step(self, volume: Volume) -> int:
        return survey_step(volume) if self.manifest.postprocessing.rule == "anatomy" else 0

    def survey(
        self, volume: Volume, step: int, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None
    ) -> tuple[SegmentationResult, bool]:
        """Segment every ``step``-th slice of ``volume`` and judge it by the anatomy rule: the result on the
        whole grid (empty with the reason when no leg has a knee joint there, else the surveyed labels
        spread over their neighbouring slices, a preview) and whether that reason is firm
        (``KneeJoint.firm``: it holds on any sampling)."""
        started = time.perf_counter()
        sparse_volume = surveyed_slices(volume, step)
        sparse = self._run(sparse_volume, progress, cancel or CancelToken(), postprocess=False)
        labels = sparse.labels.array
        outcome = self.postprocess(labels, sparse_volume, cancel)
        n = volume.shape[0]
        top = None if sparse.top_probability is None else spread_slices(sparse.top_probability, step, n)
        full = np.zeros(volume.shape, dtype=np.uint8) if outcome.no_knee else spread_slices(labels, step, n)
        slice_mm = volume.spacing_zyx[0] * step
        result = SegmentationResult(
            labels=volume.with_array(full, source=f"survey by {self.manifest.name} {self.manifest.version}"),
            seconds=time.perf_counter() - started,
            volumes_ml=volumes_ml(full, volume.spacing_zyx, self.package.label_names),
            stage_seconds={**sparse.stage_seconds, "survey": time.perf_counter() - started},
            model_name=self.manifest.name,
            settings={**self.settings.as_dict(), "survey_step": step},
            removed_voxels={self.package.label_names[k]: v for k, v in outcome.removed.items()},
            no_knee=f"{outcome.no_knee} (seen on one slice in {step}, {slice_mm:.1f} mm apart)"
            if outcome.no_knee
            else "",
            top_probability=top,
            label_names=dict(self.package.label_names),
        )
        return result, outcome.firm

    def _run(
        self, volume: Volume, progress: ProgressCallback, cancel: CancelToken, postprocess: bool
    ) -> SegmentationResult:
        started = time.perf_counter()
        clock = StageClock()
        report = MonotoneProgress(progress)
        report("Loading model", 0.0)
        with clock("load_model"):
            networks = self.networks()
        cancel.raise_if_cancelled()
        report("Preparing", 0.02)
        with clock("prepare"):
            plan = plan_case(volume, self.manifest, self.settings.resample_tolerance)
            labels = np.zeros(volume.shape, dtype=np.uint8)
            top = np.full(volume.shape, 255, dtype=np.uint8)
        cancel.raise_if_cancelled()
        predictor = Predictor(self.settings.mirror_axes, cancel, clock)
        try:
            with thread_pool(self.settings.threads) as pool:
                self._segment(
                    plan, volume.array, labels, RunContext(networks, predictor, report, clock, cancel, pool, top)
                )
        finally:
            predictor.close()
        removed: dict[str, int] = {}
        no_knee = ""
        post = self.manifest.postprocessing
        if postprocess and (post.largest_component or post.rule == "anatomy"):
            report("Post-processing", 0.95)
            with clock("postprocess"):
                outcome = self.postprocess(labels, volume, cancel)
            removed = {self.package.label_names[k]: v for k, v in outcome.removed.items()}
            no_knee = outcome.no_knee
        volumes = volumes_ml(labels, volume.spacing_zyx, self.package.label_names)
        report("Done", 1.0)
        return SegmentationResult(
            labels=volume.with_array(labels, source=f"segmentation by {self.manifest.name} {self.manifest.version}"),
            seconds=time.perf_counter() - started,
            volumes_ml=volumes,
            stage_seconds=dict(clock.seconds),
            model_name=self.manifest.name,
            settings=self.settings.as_dict(),
            removed_voxels=removed,
            no_knee=no_knee,
            top_probability=top,
            label_names=dict(self.package.label_names),
        )

    def postprocess(self, labels: np.ndarray, volume: Volume, cancel: CancelToken | None = None) -> PostprocessOutcome:
        """The package's rule: largest components, or femur and tibia decided by anatomy (needs the CT)."""
        post = self.manifest.postprocessing
        if post.rule == "anatomy":
            ids = {name.lower(): k for k, name in self.package.label_names.items()}
            with thread_pool(self.settings.threads) as pool:
                layout = apply_bone_layout(labels, volume, ids["femur"], ids["tibia"], cancel, pool)
            return PostprocessOutcome(layout.removed, layout.no_knee, layout.firm_no_knee)
        return PostprocessOutcome(apply_postprocessing(labels, post.largest_component, cancel, post.min_fraction))

    def _segment(self, plan: CasePlan, source: np.ndarray, labels: np.ndarray, context: RunContext) -> None:
        """Pick the path: bone windows (speed option), exact slabs (2D) or the whole volume."""
        if not slab_path_is_exact(plan, self.manifest):
            self._segment_whole(plan, source, labels, context)
        elif self.settings.uses_bone_windows:
            from kneeseg_app.core.inference.fast.roi_inference import BoneWindowPath

            BoneWindowPath(self.manifest, self.settings, self.package.n_labels, context).segment(plan, source, labels)
        else:
            self._segment_in_slabs(plan, source, labels, context)

    # ----- shared pieces ------------------------------------------------------
    def _window(self, padded_shape: Sequence[int]) -> Window:
        patch = tuple(self.manifest.input.patch_size)
        spatial = tuple(padded_shape[-len(patch) :])
        inf = self.manifest.inference
        return make_window(
            spatial,
            patch,
            self.settings.tile_step_size,
            self.settings.gaussian,
            inf.gaussian_sigma_scale,
            self.package.n_labels,
        )

    def _normalize(self, raw: np.ndarray) -> np.ndarray:
        n = self.manifest.normalization
        return ct_normalize(np.array(raw, dtype=np.float32), n.lower, n.upper, n.mean, n.std)

    def _body_boxes(self, image: np.ndarray, offset: Sequence[int]) -> list[tuple[int, int, int, int] | None] | None:
        """Per-slice tissue boxes of an unpadded image, shifted by the in-plane padding."""
        if not self.settings.skip_air_tiles:
            return None
        n = self.manifest.normalization
        threshold = normalized_value(BODY_HU, n.lower, n.upper, n.mean, n.std)
        boxes: list[tuple[int, int, int, int] | None] = []
        oy, ox = offset
        for plane in image:
            box = body_box_2d(plane, threshold)
            boxes.append(None if box is None else (box[0] + oy, box[1] + oy, box[2] + ox, box[3] + ox))
        return boxes

    def _predict_all(
        self,
        context: RunContext,
        padded: np.ndarray,
        window: Window,
        boxes: list[tuple[int, int, int, int] | None] | None,
        counter: TileCounter,
    ) -> np.ndarray:
        """Logits of every fold, averaged (nnU-Net sums fold logits, then divides)."""
        dims = self.manifest.input.dims
        return predict_folds(
            context.networks, context.predictor, padded, window, dims, self.settings.batch_size, boxes, counter
        )

    # ----- 2D networks, slab by slab --------------------------------------------
    def _segment_in_slabs(self, plan: CasePlan, source: np.ndarray, labels: np.ndarray, context: RunContext) -> None:
        """Slab-wise 2D inference: each slab goes from HU to labels before the next starts."""
        manifest = self.manifest
        res = manifest.resampling
        clock, cancel, pool = context.clock, context.cancel, context.pool
        crop = bbox_slices(plan.crop)
        cropped = plan.network_view(source)[crop]
        out = plan.network_view(labels)[crop]
        top = plan.network_view(context.top)[crop] if context.top is not None else None
        n_slices, *cropped_plane = plan.cropped_shape
        resampled_plane = plan.resampled_shape[1:]
        n = manifest.normalization
        with clock("prepare"):
            data_clip = None if plan.data_separate[0] else normalized_range(cropped, n.lower, n.upper, n.mean, n.std)
        pads_probe, unpad_probe = pad_to_min_shape(
            np.empty((1, *resampled_plane), dtype=np.uint8), manifest.input.patch_size
        )
        window = self._window(pads_probe.shape)
        offset = (unpad_probe[1].start, unpad_probe[2].start)
        per_slice = len(window.steps[0]) * len(window.steps[1])
        counter = TileCounter(context.report, per_slice * n_slices * len(context.networks))
        for start in range(0, n_slices, self.settings.slab_slices):
            cancel.raise_if_cancelled()
            stop = min(start + self.settings.slab_slices, n_slices)
            with clock("preprocess"):
                normalized = self._normalize(cropped[start:stop])
                resampled = resize_slices(
                    normalized, resampled_plane, res.data_order, clip=data_clip, cancel=cancel, pool=pool
                )
                del normalized
                boxes = self._body_boxes(resampled, offset)
                padded, unpad = pad_to_min_shape(resampled, manifest.input.patch_size)
            logits = self._predict_all(context, padded, window, boxes, counter)
            del padded, resampled
            with clock("resample_back"):
                logits = logits[(slice(None), *unpad)]
                self._labels_from_slab_logits(
                    logits, out[start:stop], context, None if top is None else top[start:stop]
                )
            del logits

    def _labels_from_slab_logits(
        self, logits: np.ndarray, out: np.ndarray, context: RunContext, top: np.ndarray | None = None
    ) -> None:
        """Resample each channel's logits to the cropped plane and take the argmax, slice by slice
        (in parallel: each slice is independent)."""
        order = self.manifest.resampling.probabilities_order
        plane = out.shape[1:]
        cancel = context.cancel

        def one(i: int) -> None:
            cancel.raise_if_cancelled()
            slice_labels = np.zeros(plane, dtype=np.uint8)
            slice_top = None if top is None else np.empty(plane, dtype=np.uint8)
            running = TopClass(slice_labels, slice_top)
            for c in range(logits.shape[0]):
                running.add(resize_slices(logits[c, i : i + 1], plane, order, clip=None)[0], c)
            running.finish()
            out[i] = slice_labels
            if top is not None:
                top[i] = slice_top

        map_slices(one, logits.shape[1], context.pool)

    # ----- 3D networks and the general case --------------------------------------
    def _segment_whole(self, plan: CasePlan, source: np.ndarray, labels: np.ndarray, context: RunContext) -> None:
        """The whole cropped volume at once: nnU-Net's own layout (3D networks)."""
        manifest = self.manifest
        res = manifest.resampling
        clock, cancel = context.clock, context.cancel
        crop = bbox_slices(plan.crop)
        cropped = plan.network_view(source)[crop]
        with clock("preprocess"):
            normalized = self._normalize(cropped)
            resampled = resample_to_shape(
                normalized[None],
                plan.resampled_shape,
                plan.spacing,
                plan.target_spacing,
                res.data_order,
                res.data_order_z,
                res.force_separate_z,
                res.separate_z_anisotropy_threshold,
            )[0]
            del normalized
            padded, unpad = pad_to_min_shape(resampled, manifest.input.patch_size)
            boxes = self._body_boxes(resampled, (unpad[-2].start, unpad[-1].start))
            if boxes is not None and manifest.input.dims == 3:
                boxes = [None] * unpad[0].start + boxes + [None] * (padded.shape[0] - unpad[0].stop)
            del resampled
        cancel.raise_if_cancelled()
        window = self._window(padded.shape)
        counter = TileCounter(
            context.report, len(tiles_for(padded.shape, window, manifest.input.dims)) * len(context.networks)
        )
        logits = self._predict_all(context, padded, window, boxes, counter)
        del padded
        with clock("resample_back"):
            logits = logits[(slice(None), *unpad)]
            out = plan.network_view(labels)[crop]
            running = TopClass(out, plan.network_view(context.top)[crop] if context.top is not None else None)
            for c in range(logits.shape[0]):
                cancel.raise_if_cancelled()
                channel = resample_to_shape(
                    logits[c][None],
                    plan.cropped_shape,
                    plan.target_spacing,
                    plan.spacing,
                    res.probabilities_order,
                    res.probabilities_order_z,
                    res.force_separate_z,
                    res.separate_z_anisotropy_threshold,
                )[0]
                running.add(channel, c)
            running.finish()
