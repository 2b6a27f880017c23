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

import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np

from .errors import InputError
from .modelpkg import PRECISIONS, ROI_KINDS, Manifest, ModelPackage, OnnxNetwork
from .postprocess import apply_postprocessing, volumes_ml
from .predict import (
    MonotoneProgress,
    Predictor,
    RunContext,
    StageClock,
    TileCounter,
    Window,
    argmax_into,
    make_window,
    predict_folds,
    tiles_for,
)
from .preprocess import (
    BBox,
    Orientation,
    bbox_slices,
    body_box_2d,
    compute_new_shape,
    ct_normalize,
    map_slices,
    nonzero_bbox,
    normalized_range,
    normalized_value,
    orientation_to,
    pad_to_min_shape,
    resample_to_shape,
    resize_slices,
    separate_z_decision,
)
from .progress import CancelToken, ProgressCallback, no_progress
from .volume import Volume

BODY_HU = -500.0
"""Tissue threshold of the opt-in air-tile skipping."""


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

    ``exact=True`` reproduces nnU-Net's prediction (with TTA as the manifest or
    ``tta`` says): every speed option that changes results is off. Otherwise the
    manifest's ``inference`` section decides them (docs/model-package.md).
    """

    tta: bool | None = None
    mirror_axes: tuple[int, ...] | None = None
    """TTA over these of the manifest's mirror axes only (implies ``tta``): cheaper mirroring."""
    threads: int | None = None
    tile_step_size: float | None = None
    batch_size: int | None = None
    skip_air_tiles: bool | None = None
    postprocess: bool = True
    slab_slices: int | None = None
    """Slices per slab of the 2D path (memory vs. overhead); default from the patch size."""
    exact: bool = False
    roi: str | None = None
    """'bones' or 'none': run 2D networks on windows around the bones only."""
    skip_empty_slices: bool | None = None
    precision: str | None = None
    """'float32' or 'int8' (needs the package's int8 networks)."""
    resample_tolerance: float | None = None
    slice_stride: int | None = None
    """2D: run every n-th slice and interpolate the others (see docs/model-package.md)."""


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
    exact: bool = False
    roi: str = "none"
    roi_threshold_hu: float = 250.0
    roi_margin_mm: float = 24.0
    roi_slice_margin: int = 3
    roi_min_size: tuple[int, ...] = ()
    roi_tiling: str = "window"
    skip_empty_slices: bool = False
    precision: str = "float32"
    resample_tolerance: float = 0.0
    slice_stride: int = 1
    slice_refine: float = 0.0

    @property
    def uses_bone_windows(self) -> bool:
        """Whether 2D slabs go through the bone-window path (:mod:`.roi_inference`)."""
        return self.roi != "none" or self.skip_empty_slices or self.slice_stride > 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_EXACT_VALUES = {"skip_air_tiles": False, "roi": "none", "skip_empty_slices": False, "precision": "float32",
                 "resample_tolerance": 0.0, "slice_stride": 1}
"""What ``exact=True`` sets; a caller asking for anything else with it is refused."""


def _exact_conflicts(options: SegmentOptions) -> list[str]:
    return [k for k, v in _EXACT_VALUES.items() if getattr(options, k) is not None and getattr(options, k) != v]


def resolve_settings(manifest: Manifest, options: SegmentOptions) -> ResolvedSettings:
    """Merge caller options over the manifest's inference defaults, validated."""
    inf = manifest.inference
    tta = inf.default_tta if options.tta is None else bool(options.tta)
    mirror = tuple(inf.mirror_axes)
    if options.mirror_axes is not None:
        if not set(options.mirror_axes) <= set(mirror):
            raise InputError(f"The model allows mirroring along axes {list(mirror)} only, not {list(options.mirror_axes)}.")
        tta, mirror = options.tta is not False and bool(options.mirror_axes), tuple(options.mirror_axes)
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
    speed = _speed_options(manifest, options)
    return ResolvedSettings(
        tta=tta,
        mirror_axes=mirror if tta else (),
        threads=threads,
        tile_step_size=step,
        gaussian=inf.gaussian,
        batch_size=batch,
        postprocess=options.postprocess,
        slab_slices=max(int(slab), 1),
        networks=len(manifest.networks),
        exact=options.exact,
        roi_threshold_hu=inf.roi_threshold_hu,
        roi_margin_mm=inf.roi_margin_mm,
        roi_slice_margin=inf.roi_slice_margin,
        roi_min_size=tuple(inf.roi_min_size) or tuple(manifest.input.patch_size),
        roi_tiling=inf.roi_tiling,
        slice_refine=inf.slice_refine,
        **speed,
    )


def _speed_options(manifest: Manifest, options: SegmentOptions) -> dict[str, Any]:
    """The result-changing speed options: off for ``exact``, else caller over manifest."""
    if options.exact:
        conflicts = _exact_conflicts(options)
        if conflicts:
            raise InputError(f"The option {conflicts[0]} cannot be combined with an exact (nnU-Net identical) run.")
        return dict(_EXACT_VALUES)
    inf = manifest.inference
    chosen = {k: getattr(inf, k) if getattr(options, k) is None else getattr(options, k) for k in _EXACT_VALUES}
    if chosen["roi"] not in ROI_KINDS:
        raise InputError(f"The region option must be one of {', '.join(ROI_KINDS)}, not '{chosen['roi']}'.")
    if chosen["precision"] not in PRECISIONS:
        raise InputError(f"The precision must be one of {', '.join(PRECISIONS)}, not '{chosen['precision']}'.")
    if chosen["precision"] == "int8" and not all(n.int8_file for n in manifest.networks):
        raise InputError(f"The model {manifest.name} has no int8 networks; use float32.")
    tolerance = float(chosen["resample_tolerance"])
    if not 0 <= tolerance < 0.5:
        raise InputError(f"The resampling tolerance must be between 0 and 0.5, not {tolerance}.")
    stride = int(chosen["slice_stride"])
    if not 1 <= stride <= 4:
        raise InputError(f"The slice stride must be between 1 and 4, not {stride}.")
    return {**chosen, "skip_air_tiles": bool(chosen["skip_air_tiles"]), "skip_empty_slices": bool(chosen["skip_empty_slices"]),
            "resample_tolerance": tolerance, "slice_stride": stride}


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


def within_tolerance(spacing: Sequence[float], target: Sequence[float], tolerance: float) -> bool:
    """Whether every spacing is within ``tolerance`` (a fraction) of its target."""
    return tolerance > 0 and all(abs(s / t - 1.0) <= tolerance for s, t in zip(spacing, target))


def plan_case(volume: Volume, manifest: Manifest, resample_tolerance: float = 0.0) -> CasePlan:
    """Compute the case's geometry (one cheap pass over the CT for the nonzero box).

    ``resample_tolerance`` > 0 (2D networks): in-plane spacings that close to the
    target are taken as they are, which saves both resamplings (a speed option).
    """
    spec = manifest.input
    orientation = orientation_to(volume.direction, spec.orientation)
    canonical = orientation.spacing(volume.spacing_zyx)
    spacing = tuple(canonical[i] for i in spec.transpose_forward)
    view = orientation.apply(volume.array).transpose(spec.transpose_forward)
    crop = nonzero_bbox(view)
    cropped = tuple(b - a for a, b in crop)
    target = tuple(spec.target_spacing) if spec.dims == 3 else (spacing[0], *spec.target_spacing)
    if spec.dims == 2 and within_tolerance(spacing[1:], target[1:], resample_tolerance):
        target = spacing
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
            plan = plan_case(volume, self.manifest, self.settings.resample_tolerance)
            labels = np.zeros(volume.shape, dtype=np.uint8)
        cancel.raise_if_cancelled()
        predictor = Predictor(self.settings.mirror_axes, cancel, clock)
        pool = ThreadPoolExecutor(self.settings.threads) if self.settings.threads > 1 else None
        context = RunContext(networks, predictor, report, clock, cancel, pool)
        try:
            self._segment(plan, volume.array, labels, context)
        finally:
            predictor.close()
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
        removed: dict[str, int] = {}
        if self.settings.postprocess and self.manifest.postprocessing.largest_component:
            report("Post-processing", 0.95)
            with clock("postprocess"):
                post = self.manifest.postprocessing
                dropped = apply_postprocessing(labels, post.largest_component, cancel, post.min_fraction)
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

    def _segment(self, plan: CasePlan, source: np.ndarray, labels: np.ndarray, context: RunContext) -> None:
        """Pick the path: bone windows (speed option), exact slabs (2D) or the whole volume."""
        if not slab_path_is_exact(plan, self.manifest):
            self._segment_whole(plan, source, labels, context)
        elif self.settings.uses_bone_windows:
            from .roi_inference import BoneWindowPath

            BoneWindowPath(self.manifest, self.settings, self.package.n_labels, context).segment(plan, source, labels)
        else:
            self._segment_in_slabs(plan, source, labels, context)

    # ----- shared pieces ------------------------------------------------------
    def _window(self, padded_shape: Sequence[int]) -> Window:
        patch = tuple(self.manifest.input.patch_size)
        spatial = tuple(padded_shape[-len(patch):])
        inf = self.manifest.inference
        return make_window(spatial, patch, self.settings.tile_step_size, self.settings.gaussian, inf.gaussian_sigma_scale, self.package.n_labels)

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
        self, context: RunContext, padded: np.ndarray, window: Window, boxes: list[tuple[int, int, int, int] | None] | None, counter: TileCounter
    ) -> np.ndarray:
        """Logits of every fold, averaged (nnU-Net sums fold logits, then divides)."""
        dims = self.manifest.input.dims
        return predict_folds(context.networks, context.predictor, padded, window, dims, self.settings.batch_size, boxes, counter)

    # ----- 2D networks, slab by slab --------------------------------------------
    def _segment_in_slabs(self, plan: CasePlan, source: np.ndarray, labels: np.ndarray, context: RunContext) -> None:
        """Slab-wise 2D inference: each slab goes from HU to labels before the next starts."""
        manifest = self.manifest
        res = manifest.resampling
        clock, cancel, pool = context.clock, context.cancel, context.pool
        crop = bbox_slices(plan.crop)
        cropped = plan.network_view(source)[crop]
        out = plan.network_view(labels)[crop]
        n_slices, *cropped_plane = plan.cropped_shape
        resampled_plane = plan.resampled_shape[1:]
        n = manifest.normalization
        with clock("prepare"):
            data_clip = None if plan.data_separate[0] else normalized_range(cropped, n.lower, n.upper, n.mean, n.std)
        pads_probe, unpad_probe = pad_to_min_shape(np.empty((1, *resampled_plane), dtype=np.uint8), manifest.input.patch_size)
        window = self._window(pads_probe.shape)
        offset = (unpad_probe[1].start, unpad_probe[2].start)
        per_slice = len(window.steps[0]) * len(window.steps[1])
        counter = TileCounter(context.report, per_slice * n_slices * len(context.networks))
        for start in range(0, n_slices, self.settings.slab_slices):
            cancel.raise_if_cancelled()
            stop = min(start + self.settings.slab_slices, n_slices)
            with clock("preprocess"):
                normalized = self._normalize(cropped[start:stop])
                resampled = resize_slices(normalized, resampled_plane, res.data_order, clip=data_clip, cancel=cancel, pool=pool)
                del normalized
                boxes = self._body_boxes(resampled, offset)
                padded, unpad = pad_to_min_shape(resampled, manifest.input.patch_size)
            logits = self._predict_all(context, padded, window, boxes, counter)
            del padded, resampled
            with clock("resample_back"):
                logits = logits[(slice(None), *unpad)]
                self._labels_from_slab_logits(logits, out[start:stop], context)
            del logits

    def _labels_from_slab_logits(self, logits: np.ndarray, out: np.ndarray, context: RunContext) -> None:
        """Resample each channel's logits to the cropped plane and take the argmax, slice by slice
        (in parallel: each slice is independent)."""
        order = self.manifest.resampling.probabilities_order
        plane = out.shape[1:]
        cancel = context.cancel

        def one(i: int) -> None:
            cancel.raise_if_cancelled()
            slice_labels = np.zeros(plane, dtype=np.uint8)
            best: np.ndarray | None = None
            for c in range(logits.shape[0]):
                channel = resize_slices(logits[c, i : i + 1], plane, order, clip=None)[0]
                best = argmax_into(best, slice_labels, channel, c)
            out[i] = slice_labels

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
        counter = TileCounter(context.report, len(tiles_for(padded.shape, window, manifest.input.dims)) * len(context.networks))
        logits = self._predict_all(context, padded, window, boxes, counter)
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
                best = argmax_into(best, out, channel, c)
