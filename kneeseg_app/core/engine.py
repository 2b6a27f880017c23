"""The segmentation engine: nnU-Net v2 inference reproduced with onnxruntime and numpy.

Order of operations (nnU-Net's, see ``nnunetv2.inference.predict_from_raw_data`` and
``export_prediction``), each a function of :mod:`.preprocess` / :mod:`.sliding_window`:

  canonical orientation (views) -> transpose_forward (view) -> crop to nonzero ->
  CT normalisation -> resample to the target spacing -> pad to the patch ->
  sliding window (Gaussian-weighted, optional mirroring TTA; folds averaged as logits)
  -> unpad -> resample logits to the cropped shape -> argmax -> un-crop ->
  transpose_backward / original orientation (the same views, written through) ->
  the package's post-processing.

With default options (manifest's step and Gaussian, no air skipping) the result is
nnU-Net's. 2D networks see single slices and nnU-Net keeps the slice spacing, so
slabs of slices can be run start to finish one after another: memory stays bounded
(no float32 logits of the whole volume) and the result is the same. Volumes whose
resampling would couple slices fall back to the whole-volume path (3D networks too).
"""

from __future__ import annotations

import math
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from .errors import Cancelled, InputError, ModelError
from .modelpkg import Manifest, ModelPackage, OnnxNetwork
from .postprocess import apply_postprocessing, volumes_ml
from .preprocess import (
    BBox,
    Orientation,
    bbox_slices,
    body_box_2d,
    compute_new_shape,
    ct_normalize,
    nonzero_bbox,
    normalized_value,
    orientation_to,
    pad_to_min_shape,
    resample_to_shape,
    resize_slices,
    separate_z_decision,
)
from .progress import CancelToken, ProgressCallback, no_progress
from .sliding_window import (
    Tile,
    batched,
    compute_steps,
    gaussian_importance,
    mirror_combinations,
    tiles_from_steps,
    weight_sum,
)
from .volume import Volume

BODY_HU = -500.0
"""Tissue threshold of the opt-in air-tile skipping."""

BACKGROUND_LOGIT = 10.0
"""Logit given to background (and its negative to bones) in skipped air tiles."""


def default_threads() -> int:
    """Physical cores (guessed as half the logical ones when there are 4+), at most 4.

    More threads than physical cores slow onnxruntime down, and a laptop must stay usable.
    """
    try:
        logical = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        logical = os.cpu_count() or 1
    physical = logical // 2 if logical >= 4 else logical
    return max(1, min(physical, 4))


@dataclass(frozen=True)
class SegmentOptions:
    """What a caller may change; ``None`` means the model manifest's default.

    The defaults reproduce nnU-Net's prediction (with TTA as the manifest says). The
    speed options (``skip_air_tiles``, a larger ``tile_step_size``) change results
    slightly and are off unless asked for or set in the manifest.
    """

    tta: bool | None = None
    threads: int | None = None
    tile_step_size: float | None = None
    batch_size: int | None = None
    skip_air_tiles: bool | None = None
    postprocess: bool = True
    slab_slices: int | None = None
    """Slices per slab of the 2D path (memory vs. overhead); default from the patch size."""


@dataclass(frozen=True)
class ResolvedSettings:
    """The settings a run actually used (recorded with each result)."""

    tta: bool
    mirror_axes: tuple[int, ...]
    threads: int
    tile_step_size: float
    gaussian: bool
    batch_size: int
    skip_air_tiles: bool
    postprocess: bool
    slab_slices: int
    networks: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_settings(manifest: Manifest, options: SegmentOptions) -> ResolvedSettings:
    """Merge caller options over the manifest's inference defaults, validated."""
    inf = manifest.inference
    tta = inf.default_tta if options.tta is None else bool(options.tta)
    step = inf.tile_step_size if options.tile_step_size is None else float(options.tile_step_size)
    if not 0 < step <= 1:
        raise InputError(f"The tile step size must be between 0 and 1, not {step}.")
    threads = default_threads() if options.threads is None else int(options.threads)
    if threads < 1:
        raise InputError(f"The number of threads must be at least 1, not {threads}.")
    batch = inf.batch_size if options.batch_size is None else int(options.batch_size)
    if batch < 1:
        raise InputError(f"The batch size must be at least 1, not {batch}.")
    patch_pixels = math.prod(manifest.input.patch_size[-2:])
    slab = options.slab_slices or max(batch, min(64, (24 * 512 * 512) // max(patch_pixels, 1)))
    return ResolvedSettings(
        tta=tta,
        mirror_axes=tuple(inf.mirror_axes) if tta else (),
        threads=threads,
        tile_step_size=step,
        gaussian=inf.gaussian,
        batch_size=batch,
        skip_air_tiles=inf.skip_air_tiles if options.skip_air_tiles is None else bool(options.skip_air_tiles),
        postprocess=options.postprocess,
        slab_slices=max(int(slab), 1),
        networks=len(manifest.networks),
    )


@dataclass
class SegmentationResult:
    """A label map on the source grid, with what it took to make it."""

    labels: Volume
    seconds: float
    volumes_ml: dict[str, float]
    stage_seconds: dict[str, float]
    model_name: str
    settings: dict[str, Any] = field(default_factory=dict)
    removed_voxels: dict[str, int] = field(default_factory=dict)
    """Voxels dropped by post-processing, per bone (a large number flags a doubtful result)."""


# ----------------------------------------------------------------------------
# the geometry of one case
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CasePlan:
    """Where each voxel goes: orientation, transpose, crop and resampled sizes.

    Shapes and spacings are in network axis order (after orientation and transpose).
    """

    orientation: Orientation
    transpose: tuple[int, int, int]
    spacing: tuple[float, float, float]
    shape: tuple[int, int, int]
    crop: BBox
    target_spacing: tuple[float, float, float]
    resampled_shape: tuple[int, int, int]
    data_separate: tuple[bool, int | None]
    logits_separate: tuple[bool, int | None]

    @property
    def cropped_shape(self) -> tuple[int, int, int]:
        return tuple(b - a for a, b in self.crop)  # type: ignore[return-value]

    def network_view(self, array: np.ndarray) -> np.ndarray:
        """``array`` (source z, y, x) seen in network axis order; a view, writable if it is."""
        return self.orientation.apply(array).transpose(self.transpose)


def plan_case(volume: Volume, manifest: Manifest) -> CasePlan:
    """Compute the case's geometry (one cheap pass over the CT for the nonzero box)."""
    spec = manifest.input
    orientation = orientation_to(volume.direction, spec.orientation)
    canonical = orientation.spacing(volume.spacing_zyx)
    spacing = tuple(canonical[i] for i in spec.transpose_forward)
    view = orientation.apply(volume.array).transpose(spec.transpose_forward)
    crop = nonzero_bbox(view)
    cropped = tuple(b - a for a, b in crop)
    target = tuple(spec.target_spacing) if spec.dims == 3 else (spacing[0], *spec.target_spacing)
    resampled = compute_new_shape(cropped, spacing, target)
    if min(resampled) < 1:
        raise InputError(f"The image is too small to segment ({' x '.join(map(str, volume.shape))} voxels).")
    res = manifest.resampling
    return CasePlan(
        orientation=orientation,
        transpose=spec.transpose_forward,
        spacing=spacing,  # type: ignore[arg-type]
        shape=tuple(view.shape),  # type: ignore[arg-type]
        crop=crop,
        target_spacing=target,  # type: ignore[arg-type]
        resampled_shape=resampled,  # type: ignore[arg-type]
        data_separate=separate_z_decision(spacing, target, res.force_separate_z, res.separate_z_anisotropy_threshold),
        logits_separate=separate_z_decision(target, spacing, res.force_separate_z, res.separate_z_anisotropy_threshold),
    )


def slab_path_is_exact(plan: CasePlan, manifest: Manifest) -> bool:
    """True when slice slabs give nnU-Net's result: a 2D network, no resampling across slices.

    The slice axis keeps its spacing for 2D networks; resampling stays in-plane unless
    nnU-Net would treat another axis separately, and logits are only clipped to a global
    range (unknown slab by slab) for spline orders above 1.
    """
    if manifest.input.dims != 2:
        return False
    data_sep, data_axis = plan.data_separate
    logit_sep, logit_axis = plan.logits_separate
    if data_axis not in (None, 0) or logit_axis not in (None, 0):
        return False
    return logit_sep or manifest.resampling.probabilities_order <= 1


# ----------------------------------------------------------------------------
# timing and progress helpers
# ----------------------------------------------------------------------------
class StageClock:
    """Seconds spent per stage, summed over interleaved slabs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start


class MonotoneProgress:
    """Forwards progress, never letting the fraction go backwards; 1.0 is reached by ``done``."""

    def __init__(self, callback: ProgressCallback) -> None:
        self._callback = callback
        self._last = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        self._last = max(self._last, min(max(float(fraction), 0.0), 1.0))
        self._callback(stage, self._last)


class _TileCounter:
    """Maps tiles done onto the 'Segmenting' part of the progress bar."""

    START, END = 0.05, 0.95

    def __init__(self, report: MonotoneProgress, total: int) -> None:
        self.report = report
        self.total = max(total, 1)
        self.done = 0

    def tick(self, count: int) -> None:
        self.done += count
        self.report("Segmenting", self.START + (self.END - self.START) * min(self.done / self.total, 1.0))


# ----------------------------------------------------------------------------
# running the networks
# ----------------------------------------------------------------------------
class _Predictor:
    """Runs batches through a network with mirroring TTA; stops when cancelled.

    A cancel listener sets ``RunOptions.terminate`` so even a long onnxruntime call in
    flight ends at once; its error is reported as :class:`Cancelled`.
    """

    def __init__(self, mirror_axes: Sequence[int], cancel: CancelToken, clock: StageClock) -> None:
        import onnxruntime as ort

        self.combinations = mirror_combinations(mirror_axes)
        self.cancel = cancel
        self.clock = clock
        self.run_options = ort.RunOptions()
        self._remove_listener = cancel.add_listener(self._terminate)

    def _terminate(self) -> None:
        self.run_options.terminate = True

    def close(self) -> None:
        self._remove_listener()

    def _run(self, network: OnnxNetwork, batch: np.ndarray) -> np.ndarray:
        self.cancel.raise_if_cancelled()
        try:
            return network.run(np.ascontiguousarray(batch, dtype=np.float32), self.run_options)
        except Exception as exc:
            if self.cancel.cancelled:
                raise Cancelled() from None
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"The network {network.file} failed while segmenting ({first}).") from exc

    def predict(self, network: OnnxNetwork, batch: np.ndarray) -> np.ndarray:
        """Logits for a (N, 1, *patch) batch, averaged over mirrorings as nnU-Net does."""
        with self.clock("network"):
            prediction = self._run(network, batch)
            for axes in self.combinations:
                flip_axes = tuple(a + 2 for a in axes)
                mirrored = self._run(network, np.flip(batch, flip_axes))
                prediction += np.flip(mirrored, flip_axes)
            if self.combinations:
                prediction /= len(self.combinations) + 1
        return prediction


@dataclass(frozen=True)
class _Window:
    """What the sliding window needs besides the image (shared by all slabs)."""

    patch: tuple[int, ...]
    steps: list[list[int]]
    gaussian: np.ndarray
    weights: np.ndarray
    n_labels: int


def _tiles_for(image_shape: Sequence[int], window: _Window, dims: int) -> list[Tile]:
    return tiles_from_steps(window.steps, image_shape[0] if dims == 2 else None)


def _tile_in_body(tile: Tile, patch: Sequence[int], boxes: list[tuple[int, int, int, int] | None]) -> bool:
    """Whether a tile overlaps the body box of any slice it covers."""
    if tile.slice_index is not None:
        slices, (ty, tx) = [tile.slice_index], tile.start
    else:
        tz, ty, tx = tile.start
        slices = range(tz, min(tz + patch[0], len(boxes)))
    ph, pw = patch[-2:]
    for d in slices:
        box = boxes[d]
        if box is not None and ty < box[1] and box[0] < ty + ph and tx < box[3] and box[2] < tx + pw:
            return True
    return False


def _sliding_window(
    predictor: _Predictor,
    network: OnnxNetwork,
    image: np.ndarray,
    window: _Window,
    dims: int,
    batch_size: int,
    boxes: list[tuple[int, int, int, int] | None] | None,
    counter: _TileCounter,
) -> np.ndarray:
    """nnU-Net's sliding-window prediction of a padded (k, H, W) or (D, H, W) image.

    Returns float32 logits (C, *image.shape), Gaussian-weighted and divided by the
    weight sum. Tiles in air (``boxes`` given) are not run: they count as confident
    background.
    """
    logits = np.zeros((window.n_labels, *image.shape), dtype=np.float32)
    tiles = _tiles_for(image.shape, window, dims)
    if boxes is not None:
        run = [t for t in tiles if _tile_in_body(t, window.patch, boxes)]
        skipped = [t for t in tiles if not _tile_in_body(t, window.patch, boxes)]
    else:
        run, skipped = tiles, []
    for batch in batched(run, batch_size):
        x = np.stack([image[t.window(window.patch)] for t in batch])[:, None]
        prediction = predictor.predict(network, x)
        prediction *= window.gaussian
        for i, tile in enumerate(batch):
            logits[(slice(None), *tile.window(window.patch))] += prediction[i]
        counter.tick(len(batch))
    if skipped:
        background = np.full(window.n_labels, -BACKGROUND_LOGIT, dtype=np.float32)
        background[0] = BACKGROUND_LOGIT
        fill = background.reshape(-1, *([1] * dims)) * window.gaussian
        for tile in skipped:
            logits[(slice(None), *tile.window(window.patch))] += fill
        counter.tick(len(skipped))
    logits /= window.weights
    return logits


def _argmax_into(best: np.ndarray | None, labels: np.ndarray, channel: np.ndarray, index: int) -> np.ndarray:
    """Running argmax over channels (first maximum wins, as ``np.argmax``)."""
    if best is None:
        labels[...] = 0
        return channel
    better = channel > best
    labels[better] = index
    np.maximum(best, channel, out=best)
    return best


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
            self._networks = self.package.open_networks(self.settings.threads)
        return self._networks

    def run(self, volume: Volume, progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> SegmentationResult:
        """Segment ``volume``; the label map is on the volume's own grid."""
        started = time.perf_counter()
        cancel = cancel or CancelToken()
        clock = StageClock()
        report = MonotoneProgress(progress)
        report("Loading model", 0.0)
        with clock("load_model"):
            networks = self.networks()
        cancel.raise_if_cancelled()
        report("Preparing", 0.02)
        with clock("prepare"):
            plan = plan_case(volume, self.manifest)
            labels = np.zeros(volume.shape, dtype=np.uint8)
        cancel.raise_if_cancelled()
        predictor = _Predictor(self.settings.mirror_axes, cancel, clock)
        try:
            if slab_path_is_exact(plan, self.manifest):
                self._segment_in_slabs(plan, volume.array, labels, networks, predictor, report, clock, cancel)
            else:
                self._segment_whole(plan, volume.array, labels, networks, predictor, report, clock, cancel)
        finally:
            predictor.close()
        removed: dict[str, int] = {}
        if self.settings.postprocess and self.manifest.postprocessing.largest_component:
            report("Post-processing", 0.95)
            with clock("postprocess"):
                dropped = apply_postprocessing(labels, self.manifest.postprocessing.largest_component, cancel)
            removed = {self.package.label_names[k]: v for k, v in dropped.items()}
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
        )

    # ----- shared pieces ------------------------------------------------------
    def _window(self, padded_shape: Sequence[int]) -> _Window:
        patch = tuple(self.manifest.input.patch_size)
        spatial = tuple(padded_shape[-len(patch):])
        steps = compute_steps(spatial, patch, self.settings.tile_step_size)
        if self.settings.gaussian:
            gaussian = gaussian_importance(patch, self.manifest.inference.gaussian_sigma_scale, 10.0)
        else:
            gaussian = np.ones(patch, dtype=np.float32)
        return _Window(patch, steps, gaussian, weight_sum(spatial, patch, steps, gaussian), self.package.n_labels)

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
        networks: list[OnnxNetwork],
        predictor: _Predictor,
        padded: np.ndarray,
        window: _Window,
        boxes: list[tuple[int, int, int, int] | None] | None,
        counter: _TileCounter,
    ) -> np.ndarray:
        """Logits of every fold, averaged (nnU-Net sums fold logits, then divides)."""
        dims = self.manifest.input.dims
        logits: np.ndarray | None = None
        for network in networks:
            fold = _sliding_window(predictor, network, padded, window, dims, self.settings.batch_size, boxes, counter)
            if logits is None:
                logits = fold
            else:
                logits += fold
        assert logits is not None
        if len(networks) > 1:
            logits /= len(networks)
        return logits

    def _tiles_per_image(self, padded_shape: Sequence[int], window: _Window) -> int:
        return len(_tiles_for(padded_shape, window, self.manifest.input.dims))

    # ----- 2D networks, slab by slab --------------------------------------------
    def _segment_in_slabs(
        self,
        plan: CasePlan,
        source: np.ndarray,
        labels: np.ndarray,
        networks: list[OnnxNetwork],
        predictor: _Predictor,
        report: MonotoneProgress,
        clock: StageClock,
        cancel: CancelToken,
    ) -> None:
        """Slab-wise 2D inference: each slab goes from HU to labels before the next starts."""
        manifest = self.manifest
        res = manifest.resampling
        crop = bbox_slices(plan.crop)
        cropped = plan.network_view(source)[crop]
        out = plan.network_view(labels)[crop]
        n_slices, *cropped_plane = plan.cropped_shape
        resampled_plane = plan.resampled_shape[1:]
        with clock("prepare"):
            data_clip = None if plan.data_separate[0] else self._global_normalized_range(cropped)
        pads_probe, unpad_probe = pad_to_min_shape(np.empty((1, *resampled_plane), dtype=np.uint8), manifest.input.patch_size)
        window = self._window(pads_probe.shape)
        offset = (unpad_probe[1].start, unpad_probe[2].start)
        per_slice = len(window.steps[0]) * len(window.steps[1])
        counter = _TileCounter(report, per_slice * n_slices * len(networks))
        for start in range(0, n_slices, self.settings.slab_slices):
            cancel.raise_if_cancelled()
            stop = min(start + self.settings.slab_slices, n_slices)
            with clock("preprocess"):
                normalized = self._normalize(cropped[start:stop])
                resampled = resize_slices(normalized, resampled_plane, res.data_order, clip=data_clip, cancel=cancel)
                del normalized
                boxes = self._body_boxes(resampled, offset)
                padded, unpad = pad_to_min_shape(resampled, manifest.input.patch_size)
            logits = self._predict_all(networks, predictor, padded, window, boxes, counter)
            del padded, resampled
            with clock("resample_back"):
                logits = logits[(slice(None), *unpad)]
                out[start:stop] = self._labels_from_slab_logits(logits, cropped_plane, cancel)
            del logits

    def _global_normalized_range(self, cropped: np.ndarray) -> tuple[float, float] | None:
        """Range of the normalised cropped volume: nnU-Net's 3D resize clips to it."""
        lo, hi = None, None
        for start in range(0, cropped.shape[0], 64):
            part = cropped[start : start + 64]
            lo = part.min() if lo is None else min(lo, part.min())
            hi = part.max() if hi is None else max(hi, part.max())
        ends = self._normalize(np.array([lo, hi]))
        return float(ends[0]), float(ends[1])

    def _labels_from_slab_logits(self, logits: np.ndarray, plane: Sequence[int], cancel: CancelToken) -> np.ndarray:
        """Resample each channel's logits to the cropped plane and take the argmax."""
        order = self.manifest.resampling.probabilities_order
        k = logits.shape[1]
        slab_labels = np.zeros((k, *plane), dtype=np.uint8)
        best: np.ndarray | None = None
        for c in range(logits.shape[0]):
            cancel.raise_if_cancelled()
            channel = resize_slices(logits[c], plane, order, clip=None, cancel=cancel)
            best = _argmax_into(best, slab_labels, channel, c)
        return slab_labels

    # ----- 3D networks and the general case --------------------------------------
    def _segment_whole(
        self,
        plan: CasePlan,
        source: np.ndarray,
        labels: np.ndarray,
        networks: list[OnnxNetwork],
        predictor: _Predictor,
        report: MonotoneProgress,
        clock: StageClock,
        cancel: CancelToken,
    ) -> None:
        """The whole cropped volume at once: nnU-Net's own layout (3D networks)."""
        manifest = self.manifest
        res = manifest.resampling
        crop = bbox_slices(plan.crop)
        cropped = plan.network_view(source)[crop]
        with clock("preprocess"):
            normalized = self._normalize(cropped)
            resampled = resample_to_shape(
                normalized[None], plan.resampled_shape, plan.spacing, plan.target_spacing,
                res.data_order, res.data_order_z, res.force_separate_z, res.separate_z_anisotropy_threshold,
            )[0]
            del normalized
            padded, unpad = pad_to_min_shape(resampled, manifest.input.patch_size)
            boxes = self._body_boxes(resampled, (unpad[-2].start, unpad[-1].start))
            if boxes is not None and manifest.input.dims == 3:
                boxes = [None] * unpad[0].start + boxes + [None] * (padded.shape[0] - unpad[0].stop)
            del resampled
        cancel.raise_if_cancelled()
        window = self._window(padded.shape)
        counter = _TileCounter(report, self._tiles_per_image(padded.shape, window) * len(networks))
        logits = self._predict_all(networks, predictor, padded, window, boxes, counter)
        del padded
        with clock("resample_back"):
            logits = logits[(slice(None), *unpad)]
            out = plan.network_view(labels)[crop]
            best: np.ndarray | None = None
            for c in range(logits.shape[0]):
                cancel.raise_if_cancelled()
                channel = resample_to_shape(
                    logits[c][None], plan.cropped_shape, plan.target_spacing, plan.spacing,
                    res.probabilities_order, res.probabilities_order_z, res.force_separate_z,
                    res.separate_z_anisotropy_threshold,
                )[0]
                best = _argmax_into(best, out, channel, c)
