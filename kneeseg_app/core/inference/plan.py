"""The geometry of one case: orientation, transpose, crop and resampled sizes (no pixels touched)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.errors import InputError
from kneeseg_app.core.inference.preprocess import (
    BBox,
    Orientation,
    compute_new_shape,
    nonzero_bbox,
    orientation_to,
    separate_z_decision,
)
from kneeseg_app.core.model.schema import Manifest
from kneeseg_app.core.volume import Volume


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
