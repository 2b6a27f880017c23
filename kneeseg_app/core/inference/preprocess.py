"""Geometry and intensity preparation exactly as nnU-Net v2 does it, without torch.

Every function here is a numpy/scipy port of one nnU-Net (or acvl_utils / skimage)
function, named after what it computes; ``tests/core/test_preprocess.py`` checks each
against the original. The engine composes them; splitting them out keeps each one
small enough to compare numerically.

Two deliberate differences from a literal port, both exact:

* orientation, transposition and cropping are numpy *views* (no copy of the CT);
* resampling can run slice by slice (``resize_slices``) where nnU-Net resamples the
  whole volume: when the slice axis keeps its size, a 3D spline zoom with factor 1
  along it equals per-slice 2D zooms (to float rounding), so slabs of slices can be
  processed one after another and the memory stays bounded.

A little over 400 lines on purpose: one port of one nnU-Net stage, function for function,
so that each sits next to the ones it is compared with.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kneeseg_app.core.errors import GeometryError
from kneeseg_app.core.inference.fast.roi import AxisMap
from kneeseg_app.core.progress import CancelToken

ANISO_THRESHOLD = 3.0
"""nnU-Net's ``ANISO_THRESHOLD``: spacing ratio above which z is resampled separately."""

BBox = tuple[tuple[int, int], ...]
"""Half-open ``(start, stop)`` per axis, as acvl_utils' bounding boxes."""


# ----------------------------------------------------------------------------
# orientation (SimpleITK DICOMOrient as numpy views)
# ----------------------------------------------------------------------------
_LETTERS = {"L": (0, 1), "R": (0, -1), "P": (1, 1), "A": (1, -1), "S": (2, 1), "I": (2, -1)}


@dataclass(frozen=True)
class Orientation:
    """How a (z, y, x) array is re-indexed into a canonical orientation and back.

    ``axes`` is the numpy transpose applied first, ``flips`` the output axes reversed
    after it. Both are views, so applying it to a CT or to a label map costs nothing,
    and :meth:`invert` puts labels back on the source grid exactly.
    """

    axes: tuple[int, int, int]
    flips: tuple[bool, bool, bool]

    @property
    def is_identity(self) -> bool:
        return self.axes == (0, 1, 2) and not any(self.flips)

    def apply(self, array: np.ndarray) -> np.ndarray:
        """View of ``array`` (z, y, x) in the canonical orientation."""
        view = array.transpose(self.axes)
        return view[tuple(slice(None, None, -1) if f else slice(None) for f in self.flips)]

    def invert(self, array: np.ndarray) -> np.ndarray:
        """View of a canonical-orientation array back on the source grid."""
        unflipped = array[tuple(slice(None, None, -1) if f else slice(None) for f in self.flips)]
        return unflipped.transpose(np.argsort(self.axes))

    def spacing(self, spacing_zyx: Sequence[float]) -> tuple[float, float, float]:
        """Spacing (z, y, x) of the canonical array."""
        return tuple(float(spacing_zyx[a]) for a in self.axes)  # type: ignore[return-value]


def orientation_to(direction: np.ndarray, code: str) -> Orientation:
    """The re-indexing SimpleITK's ``DICOMOrient(image, code)`` performs, as numpy views.

    Each ITK axis is assigned to the patient axis its direction cosine is closest to;
    the axes are then permuted and flipped so ITK axis j points towards ``code[j]``
    (``"LPS"`` -> identity direction). Oblique scans keep their small rotation, as with
    DICOMOrient; the engine never resamples for orientation.
    """
    code = code.upper()
    if len(code) != 3 or any(c not in _LETTERS for c in code) or len({_LETTERS[c][0] for c in code}) != 3:
        raise GeometryError(f"'{code}' is not an orientation code like 'LPS'.")
    direction = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    dominant = [int(np.argmax(np.abs(direction[:, i]))) for i in range(3)]
    if len(set(dominant)) != 3:
        raise GeometryError("The image axes are too oblique to tell which one is axial, coronal or sagittal.")
    signs = [1 if direction[dominant[i], i] > 0 else -1 for i in range(3)]
    # target ITK axis j <- source ITK axis source_of[j]
    source_of = [dominant.index(_LETTERS[c][0]) for c in code]
    flip_itk = [signs[source_of[j]] != _LETTERS[code[j]][1] for j in range(3)]
    # numpy axis a holds ITK axis 2 - a
    axes = tuple(2 - source_of[2 - a] for a in range(3))
    flips = tuple(flip_itk[2 - a] for a in range(3))
    return Orientation(axes=axes, flips=flips)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------
# cropping (nnunetv2.preprocessing.cropping.crop_to_nonzero)
# ----------------------------------------------------------------------------
def nonzero_bbox(array: np.ndarray, slab: int = 32) -> BBox:
    """Bounding box of ``array != 0``: the box nnU-Net's ``crop_to_nonzero`` crops to.

    nnU-Net fills holes in the mask first, which never changes its bounding box. An
    all-zero image keeps its full extent (``get_bbox_from_mask``'s defaults). Computed
    slab by slab so no full-size boolean mask is ever held.
    """
    shape = array.shape
    any_z = np.zeros(shape[0], dtype=bool)
    any_y = np.zeros(shape[1], dtype=bool)
    any_x = np.zeros(shape[2], dtype=bool)
    for start in range(0, shape[0], slab):
        nonzero = array[start : start + slab] != 0
        any_z[start : start + slab] = nonzero.any(axis=(1, 2))
        any_y |= nonzero.any(axis=(0, 2))
        any_x |= nonzero.any(axis=(0, 1))
    box = []
    for flags, size in zip((any_z, any_y, any_x), shape):
        hits = np.flatnonzero(flags)
        box.append((int(hits[0]), int(hits[-1]) + 1) if hits.size else (0, int(size)))
    return tuple(box)


def bbox_slices(box: BBox) -> tuple[slice, ...]:
    return tuple(slice(a, b) for a, b in box)


# ----------------------------------------------------------------------------
# intensity (nnunetv2 CTNormalization)
# ----------------------------------------------------------------------------
def ct_normalize(array: np.ndarray, lower: float, upper: float, mean: float, std: float) -> np.ndarray:
    """CT normalisation of nnU-Net: clip to [lower, upper], subtract mean, divide by std.

    Returns float32; works in place when ``array`` is already float32 (a slab copy).
    """
    image = array.astype(np.float32, copy=False)
    np.clip(image, lower, upper, out=image)
    image -= mean
    image /= max(std, 1e-8)
    return image


def normalized_range(
    volume: np.ndarray, lower: float, upper: float, mean: float, std: float, slab: int = 64
) -> tuple[float, float]:
    """Range of ``ct_normalize(volume)`` without normalising it (read slab by slab):
    nnU-Net's 3D resize clips to it."""
    lo, hi = None, None
    for start in range(0, volume.shape[0], slab):
        part = volume[start : start + slab]
        lo = part.min() if lo is None else min(lo, part.min())
        hi = part.max() if hi is None else max(hi, part.max())
    ends = ct_normalize(np.array([lo, hi], dtype=np.float32), lower, upper, mean, std)
    return float(ends[0]), float(ends[1])


def normalized_value(hu: float, lower: float, upper: float, mean: float, std: float) -> float:
    """Where a HU value lands after :func:`ct_normalize` (thresholds on normalised data)."""
    return (min(max(hu, lower), upper) - mean) / max(std, 1e-8)


# ----------------------------------------------------------------------------
# resampling (nnunetv2.preprocessing.resampling.default_resampling)
# ----------------------------------------------------------------------------
def compute_new_shape(
    old_shape: Sequence[int], old_spacing: Sequence[float], new_spacing: Sequence[float]
) -> tuple[int, ...]:
    """nnU-Net's ``compute_new_shape``: round(old_spacing / new_spacing * old_shape)."""
    return tuple(int(round(s / n * k)) for s, n, k in zip(old_spacing, new_spacing, old_shape))


def _lowres_axes(spacing: Sequence[float]) -> np.ndarray:
    spacing = np.asarray(spacing, dtype=np.float64)
    return np.where(max(spacing) / spacing == 1)[0]


def _is_anisotropic(spacing: Sequence[float], threshold: float) -> bool:
    return bool((np.max(spacing) / np.min(spacing)) > threshold)


def separate_z_decision(
    current_spacing: Sequence[float],
    new_spacing: Sequence[float],
    force_separate_z: bool | None = None,
    threshold: float = ANISO_THRESHOLD,
) -> tuple[bool, int | None]:
    """nnU-Net's ``determine_do_sep_z_and_axis``: resample one axis separately or not."""
    if force_separate_z is not None:
        do_separate = bool(force_separate_z)
        axes = _lowres_axes(current_spacing) if force_separate_z else None
    elif _is_anisotropic(current_spacing, threshold):
        do_separate, axes = True, _lowres_axes(current_spacing)
    elif _is_anisotropic(new_spacing, threshold):
        do_separate, axes = True, _lowres_axes(new_spacing)
    else:
        do_separate, axes = False, None
    if axes is None or len(axes) != 1:
        return False, None
    return do_separate, int(axes[0])


def resize_like_skimage(image: np.ndarray, new_shape: Sequence[int], order: int) -> np.ndarray:
    """``skimage.transform.resize(image, new_shape, order, mode='edge', anti_aliasing=False)``.

    Returns float64 (as skimage does for float64 input), clipped to the input's range.
    """
    image = np.asarray(image, dtype=np.float64)
    factors = [n / o for n, o in zip(new_shape, image.shape)]
    out = ndimage.zoom(image, factors, order=order, mode="nearest", grid_mode=True)
    np.clip(out, image.min(), image.max(), out=out)
    return out


def map_slices(work: Callable[[int], None], count: int, pool: Executor | None = None) -> None:
    """Run ``work(i)`` for every slice index, in ``pool``'s threads when given.

    scipy.ndimage releases the GIL, so per-slice zooms scale with the cores. Errors
    (``Cancelled`` included) surface in the caller.
    """
    if pool is None or count < 2:
        for i in range(count):
            work(i)
        return
    for future in [pool.submit(work, i) for i in range(count)]:
        future.result()


def resize_slices(
    slab: np.ndarray,
    new_yx: Sequence[int],
    order: int,
    clip: tuple[float, float] | None = None,
    out: np.ndarray | None = None,
    cancel: CancelToken | None = None,
    pool: Executor | None = None,
) -> np.ndarray:
    """Resize every slice of a (k, Y, X) slab in-plane, the slice axis untouched.

    ``clip=None`` clips each slice to its own range (nnU-Net's separate-z path, which
    resizes slice by slice); a ``(lo, hi)`` pair clips to the whole volume's range (the
    3D path, whose zoom factor along the slice axis is exactly 1). Result float32.
    ``cancel`` is checked before every slice (a 512x512 spline zoom takes ~30 ms);
    ``pool`` runs slices in parallel (same numbers).
    """
    k = slab.shape[0]
    if out is None:
        out = np.empty((k, *new_yx), dtype=np.float32)
    if tuple(slab.shape[1:]) == tuple(new_yx):
        out[...] = slab
        return out

    def one(i: int) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        plane = np.asarray(slab[i], dtype=np.float64)
        factors = [n / o for n, o in zip(new_yx, plane.shape)]
        resized = ndimage.zoom(plane, factors, order=order, mode="nearest", grid_mode=True)
        lo, hi = (plane.min(), plane.max()) if clip is None else clip
        np.clip(resized, lo, hi, out=resized)
        out[i] = resized

    map_slices(one, k, pool)
    return out


def zoom_window(
    planes: np.ndarray,
    in_start: Sequence[int],
    maps: Sequence[AxisMap],
    window: Sequence[tuple[int, int]],
    order: int,
    clip: tuple[float, float] | None = None,
    cancel: CancelToken | None = None,
    pool: Executor | None = None,
) -> np.ndarray:
    """A window of the in-plane zoom of whole planes, computed from a part of them.

    ``planes`` (k, h, w) is the part of the full planes that starts at ``in_start``;
    ``maps`` say how each axis is resampled (nnU-Net's ``grid_mode`` zoom); ``window``
    ``((y0, y1), (x0, x1))`` are the output pixels wanted, zero where they fall outside
    the image (nnU-Net pads with zeros). Interior values equal the whole-plane zoom's up
    to the spline prefilter's edge effect, which the caller keeps away with a margin
    of input pixels (``input_range``). Result float32.
    """
    (y0, y1), (x0, x1) = window
    my, mx = maps
    out = np.zeros((planes.shape[0], y1 - y0, x1 - x0), dtype=np.float32)
    vy0, vy1, vx0, vx1 = max(y0, 0), min(y1, my.n_out), max(x0, 0), min(x1, mx.n_out)
    if vy1 <= vy0 or vx1 <= vx0:
        return out
    dst = out[:, vy0 - y0 : vy1 - y0, vx0 - x0 : vx1 - x0]
    if my.identity and mx.identity:
        dst[...] = planes[:, vy0 - in_start[0] : vy1 - in_start[0], vx0 - in_start[1] : vx1 - in_start[1]]
        return out
    matrix = (my.in_per_out, mx.in_per_out)
    offset = (my.to_in(vy0) - in_start[0], mx.to_in(vx0) - in_start[1])

    def one(i: int) -> None:
        if cancel is not None:
            cancel.raise_if_cancelled()
        resized = ndimage.affine_transform(
            planes[i],
            matrix,
            offset,
            output_shape=dst.shape[1:],
            order=order,
            mode="nearest",
            prefilter=order > 1,
            output=np.float32,
        )
        if clip is not None:
            np.clip(resized, clip[0], clip[1], out=resized)
        dst[i] = resized

    map_slices(one, planes.shape[0], pool)
    return out


def _nearest_source_indices(n_in: int, n_out: int) -> np.ndarray:
    """Which input slice nnU-Net's order-0 ``map_coordinates`` picks for each output slice."""
    scale = float(n_in) / n_out
    coords = scale * (np.arange(n_out, dtype=np.float64) + 0.5) - 0.5
    picked = ndimage.map_coordinates(np.arange(n_in, dtype=np.float64), coords[None], order=0, mode="nearest")
    return np.rint(picked).astype(np.intp)


def resample_to_shape(
    data: np.ndarray,
    new_shape: Sequence[int],
    current_spacing: Sequence[float],
    new_spacing: Sequence[float],
    order: int = 3,
    order_z: int = 0,
    force_separate_z: bool | None = None,
    threshold: float = ANISO_THRESHOLD,
) -> np.ndarray:
    """nnU-Net's ``resample_data_or_seg_to_shape`` for data/logits (``is_seg=False``).

    ``data`` is (C, *spatial); the result has ``data.dtype``. Uses one channel of
    float64 at a time (nnU-Net converts all channels) and, for order-0 resampling
    along the separate axis, picks whole slices instead of building nnU-Net's
    full-size coordinate grids; both give the same values.
    """
    shape = tuple(data.shape[1:])
    new_shape = tuple(int(s) for s in new_shape)
    if shape == new_shape:
        return data
    do_separate, axis = separate_z_decision(current_spacing, new_spacing, force_separate_z, threshold)
    result = np.zeros((data.shape[0], *new_shape), dtype=data.dtype)
    for c in range(data.shape[0]):
        if do_separate and axis is not None:
            result[c] = _resample_separate_axis(data[c], new_shape, axis, order, order_z)
        else:
            result[c] = resize_like_skimage(data[c], new_shape, order)
    return result


def _resample_separate_axis(
    channel: np.ndarray, new_shape: tuple[int, ...], axis: int, order: int, order_z: int
) -> np.ndarray:
    """nnU-Net's separate-z branch for one channel: 2D resizes, then the lone axis."""
    in_plane = tuple(s for i, s in enumerate(new_shape) if i != axis)
    moved = np.moveaxis(channel, axis, 0)
    stack = np.empty((moved.shape[0], *in_plane), dtype=np.float64)
    for i in range(moved.shape[0]):
        stack[i] = resize_like_skimage(moved[i], in_plane, order)
    if moved.shape[0] != new_shape[axis]:
        if order_z == 0:
            stack = stack[_nearest_source_indices(moved.shape[0], new_shape[axis])]
        else:
            stack = _map_axis_like_nnunet(stack, new_shape[axis], order_z)
    return np.moveaxis(stack, 0, axis)


def _map_axis_like_nnunet(stack: np.ndarray, n_out: int, order_z: int) -> np.ndarray:
    """Spline resampling of axis 0 only, with nnU-Net's coordinate formula."""
    n_in = stack.shape[0]
    coords = float(n_in) / n_out * (np.arange(n_out, dtype=np.float64) + 0.5) - 0.5
    grid = np.meshgrid(coords, *[np.arange(s, dtype=np.float64) for s in stack.shape[1:]], indexing="ij")
    return ndimage.map_coordinates(stack, np.array(grid), order=order_z, mode="nearest")


# ----------------------------------------------------------------------------
# padding (acvl_utils pad_nd_image, mode constant 0)
# ----------------------------------------------------------------------------
def pad_amounts(shape: Sequence[int], min_shape: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Padding (below, above) per axis so the last ``len(min_shape)`` axes reach it.

    As ``pad_nd_image``: content centred, the odd voxel goes above, no axis cropped.
    """
    lead = len(shape) - len(min_shape)
    pads: list[tuple[int, int]] = [(0, 0)] * lead
    for size, target in zip(shape[lead:], min_shape):
        diff = max(int(target) - int(size), 0)
        pads.append((diff // 2, diff // 2 + diff % 2))
    return tuple(pads)


def pad_to_min_shape(array: np.ndarray, min_shape: Sequence[int]) -> tuple[np.ndarray, tuple[slice, ...]]:
    """Zero-pad the trailing axes up to ``min_shape``; returns the array and the slicer back."""
    pads = pad_amounts(array.shape, min_shape)
    unpad = tuple(slice(lo, lo + s) for (lo, _), s in zip(pads, array.shape))
    if not any(lo or hi for lo, hi in pads):
        return array, unpad
    return np.pad(array, pads, mode="constant", constant_values=0), unpad


# ----------------------------------------------------------------------------
# body mask (opt-in speed-up; not part of nnU-Net)
# ----------------------------------------------------------------------------
def body_box_2d(plane: np.ndarray, threshold: float, margin: int = 8) -> tuple[int, int, int, int] | None:
    """Box (y0, y1, x0, x1) of the largest connected region above ``threshold``, widened.

    Cheap (one 2D labelling per slice) and conservative: anything a tile outside this
    box could segment is air or table. ``None`` when the slice holds no tissue.
    """
    mask = plane > threshold
    if not mask.any():
        return None
    labelled, count = ndimage.label(mask)
    if count > 1:
        sizes = np.bincount(labelled.ravel())
        sizes[0] = 0
        mask = labelled == int(np.argmax(sizes))
    ys = np.flatnonzero(mask.any(axis=1))
    xs = np.flatnonzero(mask.any(axis=0))
    h, w = plane.shape
    return (
        max(int(ys[0]) - margin, 0),
        min(int(ys[-1]) + 1 + margin, h),
        max(int(xs[0]) - margin, 0),
        min(int(xs[-1]) + 1 + margin, w),
    )
