"""Synthetic knee CT with exact femur/tibia labels (the training, test and demo data).

No public labelled knee CT exists, so KneeSeg draws its own: a knee (or both) with a
femur, tibia, fibula and patella, muscle, fat, skin and the scanner table, posed (flexion,
rotation, position), sized, optionally osteoarthritic (closed joint space, osteophytes,
subchondral sclerosis and cysts) and imaged like a CT scanner would (partial volume,
trabecular texture, correlated noise, kernel sharpness, HU offset, padding outside the
reconstruction circle).

Usage::

    phantom = generate_phantom(7, shape_zyx=(48, 128, 128))
    phantom.ct.array      # int16 HU, (z, y, x)
    phantom.labels.array  # uint8: 0 background, 1 femur, 2 tibia (both legs)

The same seed always gives the same phantom; ``None`` arguments are drawn from
realistic ranges with that seed. Only numpy and scipy are needed.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kneeseg_app.core.labels import LABEL_NAMES
from kneeseg_app.core.phantom.draw import draw_params
from kneeseg_app.core.phantom.draw_wide import draw_wide_params, merge_classic
from kneeseg_app.core.phantom.params import PhantomParams
from kneeseg_app.core.phantom.render import BONE_CODES, CANCELLOUS, CORTEX, MARROW, render
from kneeseg_app.core.phantom.scanner import orient
from kneeseg_app.core.phantom.scene import build_scene
from kneeseg_app.core.phantom.variation import WideChoices
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress, scaled
from kneeseg_app.core.volume import DicomFacts, Volume

if TYPE_CHECKING:
    from kneeseg_app.core.phantom.truth import PhantomTruth

LABELS = LABEL_NAMES
TISSUE_NAMES = {0: "air", 1: "table", 2: "skin", 3: "fat", 4: "muscle", 5: "tendon, cartilage or ligament"}

__all__ = [
    "LABELS",
    "Phantom",
    "PhantomParams",
    "TISSUE_NAMES",
    "bone_mask",
    "draw_params",
    "generate_phantom",
    "render_phantom",
]


@dataclass
class Phantom:
    """A synthetic CT, its reference labels and how it was made."""

    ct: Volume
    labels: Volume
    params: PhantomParams
    tissues: Volume | None = None
    """Optional tissue map (codes in :data:`TISSUE_NAMES`, bones as 10 * bone + part)."""
    seconds: float = 0.0
    table_y_mm: float | None = None

    @functools.cached_property
    def truth(self) -> PhantomTruth:
        """True landmarks, axes, angles and sizes of each leg (LPS mm; computed on first use, ~3 s a leg)."""
        from kneeseg_app.core.phantom.truth import phantom_truth

        return phantom_truth(self.params)


def generate_phantom(
    seed: int,
    *,
    shape_zyx: tuple[int, int, int] | None = None,
    spacing_zyx: tuple[float, float, float] | None = None,
    osteoarthritis: bool | None = None,
    both_legs: bool | None = None,
    noise_sd: float | None = None,
    flexion_deg: float | None = None,
    body_scale: float | None = None,
    side: str | None = None,
    patient_position: str | None = None,
    kernel: str | None = None,
    coverage_mm: tuple[float, float] | None = None,
    with_tissues: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    variation: str = "classic",
    choices: WideChoices | None = None,
) -> Phantom:
    """Draw and render one knee CT phantom (deterministic per seed and arguments).

    ``shape_zyx``/``spacing_zyx`` fix the grid; when one is missing it is chosen so the
    volume shows ``coverage_mm`` (femur above, tibia below the joint line; drawn in
    80-150 mm each). ``with_tissues`` adds the tissue map used by tests (one more byte
    per voxel). ``variation="wide"`` draws every axis of issue 12 (scanner, grid, pose,
    implants, ...; :mod:`draw_wide`), with ``choices`` pinning any of them; the classic
    default keeps the demo case and older data sets bit for bit.
    """
    if variation == "wide":
        classic = dict(
            osteoarthritis=osteoarthritis,
            both_legs=both_legs,
            noise_sd=noise_sd,
            flexion_deg=flexion_deg,
            side=side,
            patient_position=patient_position,
            kernel=kernel,
            coverage_mm=coverage_mm,
        )
        wide = draw_wide_params(
            seed, merge_classic(choices or WideChoices(), **classic), shape_zyx=shape_zyx, spacing_zyx=spacing_zyx
        )
        return render_phantom(wide, with_tissues=with_tissues, progress=progress, cancel=cancel)
    if variation != "classic":
        raise ValueError(f"variation must be 'classic' or 'wide', got {variation!r}")
    params = draw_params(
        seed,
        shape_zyx=shape_zyx,
        spacing_zyx=spacing_zyx,
        osteoarthritis=osteoarthritis,
        both_legs=both_legs,
        noise_sd=noise_sd,
        flexion_deg=flexion_deg,
        body_scale=body_scale,
        side=side,
        patient_position=patient_position,
        kernel=kernel,
        coverage_mm=coverage_mm,
    )
    return render_phantom(params, with_tissues=with_tissues, progress=progress, cancel=cancel)


def render_phantom(
    params: PhantomParams,
    *,
    with_tissues: bool = False,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> Phantom:
    """Render a phantom from explicit parameters (e.g. edited ones from :func:`draw_params`)."""
    start = time.perf_counter()
    progress("Building phantom anatomy", 0.0)
    scene = build_scene(params)
    if cancel is not None:
        cancel.raise_if_cancelled()
    out = render(scene, with_tissues=with_tissues, progress=scaled(progress, 0.1, 1.0), cancel=cancel)
    acq = params.acquisition
    facts = DicomFacts(
        modality="CT",
        series_description=f"Synthetic knee phantom {params.seed}",
        slice_thickness_mm=acq.spacing_zyx[0],
        convolution_kernel=acq.kernel,
        manufacturer="KneeSeg phantom",
        patient_position=acq.patient_position,
    )
    source = f"phantom seed {params.seed}"
    arrays, origin, direction = [out.ct, out.labels, out.tissues], acq.origin_xyz, np.eye(3)
    if params.extras is not None and params.extras.oriented:
        arrays, origin, direction = orient(arrays, acq.spacing_zyx, acq.origin_xyz, acq.patient_position)
    ct = Volume(arrays[0], acq.spacing_zyx, origin, direction, dicom=facts, source=source)
    labels = ct.with_array(arrays[1], dicom=None, source=f"{source} reference labels")
    tissues = ct.with_array(arrays[2], dicom=None, source=f"{source} tissues") if arrays[2] is not None else None
    return Phantom(ct, labels, params, tissues, time.perf_counter() - start, scene.table_y)


def bone_mask(tissues: np.ndarray, bone: str, part: str | None = None) -> np.ndarray:
    """Voxels of one bone ('femur', 'tibia', 'fibula', 'patella') in a tissue map.

    ``part`` narrows to 'cortex', 'cancellous' or 'marrow'.
    """
    base = BONE_CODES[bone]
    if part is None:
        return (tissues >= base) & (tissues < base + 10)
    offset = {"cortex": CORTEX, "cancellous": CANCELLOUS, "marrow": MARROW}[part]
    return tissues == base + offset
