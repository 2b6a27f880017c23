"""What a run uses: the caller's options resolved against the manifest's defaults and limits."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from typing import Any

from kneeseg_app.core.errors import InputError
from kneeseg_app.core.model.schema import LIMITS, SPEED_OPTIONS, InferenceDefaults, Manifest

_NNUNET = InferenceDefaults()
"""The manifest schema's defaults: nnU-Net's maths (declared once, in kneeseg_app.core.model.schema)."""


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
    survey: bool | None = None
    """Long scans: segment every ~10 mm slice first and stop there when no leg has a knee joint for a
    firm reason (core/inference/survey.py). Off unless asked (never with ``exact`` or without
    post-processing): on a 40 deg flexed knee of the independent phantoms the survey's sampled layout
    found "a tibia without a femur" where the whole scan has both."""


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
    roi: str = _NNUNET.roi
    roi_threshold_hu: float = _NNUNET.roi_threshold_hu
    roi_margin_mm: float = _NNUNET.roi_margin_mm
    roi_slice_margin: int = _NNUNET.roi_slice_margin
    roi_min_size: tuple[int, ...] = _NNUNET.roi_min_size
    roi_tiling: str = _NNUNET.roi_tiling
    skip_empty_slices: bool = _NNUNET.skip_empty_slices
    precision: str = _NNUNET.precision
    resample_tolerance: float = _NNUNET.resample_tolerance
    slice_stride: int = _NNUNET.slice_stride
    slice_refine: float = _NNUNET.slice_refine
    survey: bool = False

    @property
    def uses_bone_windows(self) -> bool:
        """Whether 2D slabs go through the bone-window path (:mod:`.roi_inference`)."""
        return self.roi != "none" or self.skip_empty_slices or self.slice_stride > 1

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


_EXACT_VALUES = {name: getattr(_NNUNET, name) for name in SPEED_OPTIONS}
"""What ``exact=True`` sets; a caller asking for anything else with it is refused."""

_OPTION_NAMES = {
    "tile_step_size": "tile step size",
    "batch_size": "batch size",
    "roi": "region option",
    "precision": "precision",
    "resample_tolerance": "resampling tolerance",
    "slice_stride": "slice stride",
}


def _within_limits(name: str, value: Any) -> Any:
    """``value`` if the manifest schema's limit for option ``name`` allows it; else InputError."""
    limit = LIMITS[name]
    if not limit.allows(value):
        raise InputError(f"The {_OPTION_NAMES[name]} must be {limit.describe()}, not {value!r}.")
    return value


def _exact_conflicts(options: SegmentOptions) -> list[str]:
    return [k for k, v in _EXACT_VALUES.items() if getattr(options, k) is not None and getattr(options, k) != v]


def resolve_settings(manifest: Manifest, options: SegmentOptions) -> ResolvedSettings:
    """Merge caller options over the manifest's inference defaults, validated."""
    inf = manifest.inference
    tta = inf.default_tta if options.tta is None else bool(options.tta)
    mirror = tuple(inf.mirror_axes)
    if options.mirror_axes is not None:
        if not set(options.mirror_axes) <= set(mirror):
            raise InputError(
                f"The model allows mirroring along axes {list(mirror)} only, not {list(options.mirror_axes)}."
            )
        tta, mirror = options.tta is not False and bool(options.mirror_axes), tuple(options.mirror_axes)
    step = _within_limits(
        "tile_step_size", inf.tile_step_size if options.tile_step_size is None else float(options.tile_step_size)
    )
    threads = default_threads() if options.threads is None else int(options.threads)
    if threads < 1:
        raise InputError(f"The number of threads must be at least 1, not {threads}.")
    batch = _within_limits("batch_size", inf.batch_size if options.batch_size is None else int(options.batch_size))
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
        survey=bool(options.survey) and options.postprocess and not options.exact,
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
    for name in ("roi", "precision"):
        _within_limits(name, chosen[name])
    if chosen["precision"] == "int8" and not all(n.int8_file for n in manifest.networks):
        raise InputError(f"The model {manifest.name} has no int8 networks; use float32.")
    tolerance = _within_limits("resample_tolerance", float(chosen["resample_tolerance"]))
    stride = _within_limits("slice_stride", int(chosen["slice_stride"]))
    return {
        **chosen,
        "skip_air_tiles": bool(chosen["skip_air_tiles"]),
        "skip_empty_slices": bool(chosen["skip_empty_slices"]),
        "resample_tolerance": tolerance,
        "slice_stride": stride,
    }
