"""Slice-stack geometry: from each slice's DICOM position to a correct regular grid.

A naive series reader assumes slices are stacked along the normal of the image plane
at a constant step. Gantry-tilted CT (positions move along the table axis while the
image plane is tilted: a sheared stack), missing slices and mixed reconstruction steps
break that assumption, and the volume comes out silently distorted. Here the true
position of every slice is kept: the stack is described as parallel planes at depths
along the normal, each shifted in-plane, and resampled onto a regular grid aligned with
the image orientation only when that is needed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from kneeseg_app.core.dicom.headers import SliceHeader
from kneeseg_app.core.errors import GeometryError, MixedImageSizesError
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress

ORIENTATION_TOL = 1e-3
"""Largest difference of direction-cosine components still taken as the same plane orientation."""
SHEAR_TOL_PIXELS = 0.1
"""In-plane offset (in pixels) between slices beyond which the stack is sheared (tilted gantry)."""
STEP_TOL_FRACTION = 0.05
"""A slice off a regular grid by more than this fraction of the step makes the spacing uneven."""
DUPLICATE_TOL_MM = 0.01
"""Slices closer than this along the normal share one position."""


@dataclass(frozen=True)
class StackLayout:
    """Where each slice of one series really lies, in slice order along the normal."""

    order: tuple[int, ...]
    """Indices into the headers, sorted by depth along the normal."""
    origin: np.ndarray
    """LPS position (mm) of the first pixel of the first slice."""
    axes: np.ndarray
    """3x3, columns: row direction u (increasing column), column direction v (increasing row), normal n = u x v."""
    spacing_xy: tuple[float, float]
    """Pixel step along u (between columns) and along v (between rows), mm."""
    rows: int
    columns: int
    depths: np.ndarray
    """Depth of each sorted slice along n relative to the first (mm, non-decreasing)."""
    shifts: np.ndarray
    """(k, 2) in-plane offset of each sorted slice along (u, v) relative to the first (mm)."""

    @property
    def n_slices(self) -> int:
        return len(self.order)

    @property
    def gaps(self) -> np.ndarray:
        return np.diff(self.depths)

    @property
    def max_shift_pixels(self) -> float:
        if self.n_slices < 2:
            return 0.0
        return float(np.max(np.abs(self.shifts) / np.asarray(self.spacing_xy)))

    @property
    def is_sheared(self) -> bool:
        return self.max_shift_pixels > SHEAR_TOL_PIXELS

    @property
    def tilt_deg(self) -> float:
        """Angle between the direction the slices advance in and the image normal."""
        travel = self.shifts[-1, 0] * self.axes[:, 0] + self.shifts[-1, 1] * self.axes[:, 1]
        travel = travel + self.depths[-1] * self.axes[:, 2]
        length = float(np.linalg.norm(travel))
        if length == 0.0:
            return 0.0
        return math.degrees(math.acos(min(1.0, abs(float(travel @ self.axes[:, 2])) / length)))


@dataclass(frozen=True)
class GridPlan:
    """The regular output grid for a stack, and why (if at all) it differs from the slices."""

    resample: bool
    step_mm: float
    n_planes: int
    rows: int
    columns: int
    offset_pixels: tuple[float, float]
    """Output pixel (0, 0) in input pixel units relative to the first slice: (row, column)."""
    warnings: tuple[str, ...] = ()


def plane_orientation_code(orientation: tuple[float, ...]) -> str:
    """'axial', 'coronal' or 'sagittal' by the dominant axis of the normal, 'oblique ...' if far off."""
    u = np.asarray(orientation[:3], dtype=np.float64)
    v = np.asarray(orientation[3:], dtype=np.float64)
    normal = np.cross(u, v)
    norm = float(np.linalg.norm(normal))
    if norm < 1e-6:
        return "unknown"
    normal = np.abs(normal / norm)
    name = ("sagittal", "coronal", "axial")[int(np.argmax(normal))]
    return name if float(normal.max()) >= 0.9 else f"oblique {name}"


def same_orientation(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    """True when two ImageOrientationPatient values describe the same plane orientation."""
    return bool(np.max(np.abs(np.asarray(a) - np.asarray(b))) <= ORIENTATION_TOL)


def layout_stack(headers: list[SliceHeader] | tuple[SliceHeader, ...]) -> StackLayout:
    """Sort slices along their normal and measure each one's true depth and in-plane shift."""
    if not headers:
        raise GeometryError("The series has no slices.")
    _require_geometry(headers)
    _require_one_size_and_orientation(headers)
    first = headers[0]
    u = np.asarray(first.orientation[:3], dtype=np.float64)  # type: ignore[index]
    v = np.asarray(first.orientation[3:], dtype=np.float64)  # type: ignore[index]
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    n = np.cross(u, v)
    n /= np.linalg.norm(n)
    axes = np.stack([u, v, n], axis=1)
    positions = np.array([h.position for h in headers], dtype=np.float64)
    depth = positions @ n
    order = np.lexsort((np.array([h.instance_number or 0 for h in headers]), depth))
    positions = positions[order]
    relative = positions - positions[0]
    row_spacing, column_spacing = first.pixel_spacing  # type: ignore[misc]
    return StackLayout(
        order=tuple(int(i) for i in order),
        origin=positions[0],
        axes=axes,
        spacing_xy=(float(column_spacing), float(row_spacing)),
        rows=first.rows,
        columns=first.columns,
        depths=relative @ n,
        shifts=np.stack([relative @ u, relative @ v], axis=1),
    )


def _require_geometry(headers: list[SliceHeader] | tuple[SliceHeader, ...]) -> None:
    for h in headers:
        if h.position is None or h.orientation is None or h.pixel_spacing is None:
            missing = [
                name
                for name, value in (
                    ("ImagePositionPatient", h.position),
                    ("ImageOrientationPatient", h.orientation),
                    ("PixelSpacing", h.pixel_spacing),
                )
                if value is None
            ]
            raise GeometryError(
                f"The slice {_name(h.path)} has no {' or '.join(missing)}, so its place in the patient is unknown."
            )
        if min(h.pixel_spacing) <= 0 or np.linalg.norm(np.cross(h.orientation[:3], h.orientation[3:])) < 0.5:
            raise GeometryError(f"The slice {_name(h.path)} has an invalid pixel spacing or orientation.")


def _require_one_size_and_orientation(headers: list[SliceHeader] | tuple[SliceHeader, ...]) -> None:
    first = headers[0]
    for h in headers[1:]:
        if (h.rows, h.columns) != (first.rows, first.columns):
            raise MixedImageSizesError(
                f"Slices of this series have different sizes ({first.columns}x{first.rows} in {_name(first.path)}, "
                f"{h.columns}x{h.rows} in {_name(h.path)}), so they do not form one volume."
            )
        if not same_orientation(h.orientation, first.orientation):  # type: ignore[arg-type]
            raise MixedImageSizesError(
                f"Slices of this series have different orientations ({_name(first.path)} and {_name(h.path)}), "
                "so they do not form one volume."
            )
        if not np.allclose(h.pixel_spacing, first.pixel_spacing, rtol=1e-3, atol=1e-4):  # type: ignore[arg-type]
            raise MixedImageSizesError(
                f"Slices of this series have different pixel spacings ({_name(first.path)} and {_name(h.path)}), "
                "so they do not form one volume."
            )


def duplicate_runs(layout: StackLayout) -> list[list[int]]:
    """Runs of sorted slice indices that share one position (same depth and in-plane place)."""
    runs: list[list[int]] = []
    current = [0]
    for k in range(1, layout.n_slices):
        same_depth = layout.depths[k] - layout.depths[current[0]] <= DUPLICATE_TOL_MM
        if same_depth:
            current.append(k)
        else:
            if len(current) > 1:
                runs.append(current)
            current = [k]
    if len(current) > 1:
        runs.append(current)
    return runs


def plan_grid(layout: StackLayout, gantry_tilt_tag_deg: float | None = None) -> GridPlan:
    """Decide the regular grid for a stack without duplicates; raise GeometryError if none is safe."""
    if layout.n_slices < 2:
        raise GeometryError("A single slice has no slice spacing.")
    gaps = layout.gaps
    if float(gaps.min()) <= DUPLICATE_TOL_MM:
        raise GeometryError("Several slices share one position; remove duplicates before planning the grid.")
    uniform = is_uniform(layout.depths)
    span = float(layout.depths[-1])
    # a whole number of steps from the first to the last slice, so both ends are real slices
    n_planes = layout.n_slices if uniform else int(round(span / regular_step(gaps))) + 1
    step = span / (n_planes - 1)
    warnings: list[str] = []
    if not uniform:
        warnings.append(_spacing_warning(layout, step))
    sheared = layout.is_sheared
    if sheared:
        warnings.insert(0, _tilt_warning(layout, gantry_tilt_tag_deg))
    elif gantry_tilt_tag_deg and abs(gantry_tilt_tag_deg) > 0.5 and layout.tilt_deg < 0.5 and _is_axis_aligned(layout):
        warnings.append(
            f"The scanner reports a gantry tilt of {gantry_tilt_tag_deg:.1f}° that the slice positions do not show; "
            "the geometry follows the slice positions, so check the images for shearing."
        )
    rows, columns, offset = _canvas(layout) if sheared else (layout.rows, layout.columns, (0.0, 0.0))
    return GridPlan(
        resample=sheared or not uniform,
        step_mm=step,
        n_planes=n_planes,
        rows=rows,
        columns=columns,
        offset_pixels=offset,
        warnings=tuple(warnings),
    )


def is_uniform(depths: np.ndarray) -> bool:
    """True when every slice lies within STEP_TOL_FRACTION of a step of the regular first-to-last grid."""
    n = len(depths)
    step = float(depths[-1]) / (n - 1)
    residual = np.abs(depths - step * np.arange(n))
    return bool(residual.max() <= max(0.01, STEP_TOL_FRACTION * step))


def regular_step(gaps: np.ndarray) -> float:
    """The step to resample uneven slices to: the smallest gap that is not an outlier.

    Gaps under half the median (a short overlap where two reconstruction ranges meet,
    e.g. the 1.08 mm between 4 mm and 7 mm sections) would multiply the slice count
    without adding information, so they are ignored; a missing slice only makes some
    gaps larger, and the common step is kept.
    """
    median = float(np.median(gaps))
    return float(np.min(gaps[gaps >= 0.5 * median]))


def _spacing_warning(layout: StackLayout, step: float) -> str:
    gaps = layout.gaps
    ratio = gaps / step
    multiple = (np.round(ratio) >= 2) & (np.abs(ratio - np.round(ratio)) <= 0.2)
    missing = int(np.sum(np.round(ratio) - 1, where=multiple))
    listed = ", ".join(f"{g:.2f}" for g in gaps) if len(gaps) <= 8 else f"{gaps.min():.2f} to {gaps.max():.2f}"
    cause = f"about {missing} slice(s) appear missing; " if missing > 0 else ""
    return (
        f"Uneven slice spacing (gaps {listed} mm along the slice normal): {cause}the volume was resampled to a regular "
        f"{step:.2f} mm step by linear interpolation between the real slices."
    )


def _tilt_warning(layout: StackLayout, tag_deg: float | None) -> str:
    tag = f" (the header says {tag_deg:.1f}°)" if tag_deg else ""
    return (
        f"Gantry tilt of {layout.tilt_deg:.1f}°{tag}: the slices are sheared, so the volume was resampled from each "
        "slice's true position onto a regular grid aligned with the image planes."
    )


def _is_axis_aligned(layout: StackLayout) -> bool:
    return bool(np.allclose(np.abs(layout.axes), np.round(np.abs(layout.axes)), atol=1e-3))


def _canvas(layout: StackLayout) -> tuple[int, int, tuple[float, float]]:
    """Output in-plane size covering every shifted slice, and where it starts (input pixels)."""
    shift_px = layout.shifts / np.asarray(layout.spacing_xy)  # (k, 2): columns, rows
    low = shift_px.min(axis=0)
    high = shift_px.max(axis=0)
    extra = np.ceil(high - low - 1e-6).astype(int)
    return layout.rows + int(extra[1]), layout.columns + int(extra[0]), (float(low[1]), float(low[0]))


def grid_geometry(
    layout: StackLayout, plan: GridPlan
) -> tuple[tuple[float, float, float], tuple[float, float, float], np.ndarray]:
    """(origin_xyz, spacing_zyx, direction) of the planned grid, in LPS as SimpleITK has it."""
    sx, sy = layout.spacing_xy
    row0, col0 = plan.offset_pixels
    origin = layout.origin + col0 * sx * layout.axes[:, 0] + row0 * sy * layout.axes[:, 1]
    return tuple(float(c) for c in origin), (plan.step_mm, sy, sx), layout.axes.copy()  # type: ignore[return-value]


def resample_stack(
    slices: np.ndarray,
    layout: StackLayout,
    plan: GridPlan,
    pad_value: float,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> np.ndarray:
    """Resample sorted slices (k, rows, columns) onto the planned grid.

    Each slice is a plane at its own depth, shifted in-plane by its own offset (exact
    positions, bilinear in-plane); output planes are interpolated linearly between the
    two real slices around them along the normal. Integer input stays integer (rounded).
    """
    out = np.empty((plan.n_planes, plan.rows, plan.columns), dtype=slices.dtype)
    placed = _PlacedSlices(slices, layout, plan, pad_value)
    depths = layout.depths
    for m in range(plan.n_planes):
        if cancel is not None:
            cancel.raise_if_cancelled()
        depth = min(m * plan.step_mm, float(depths[-1]))
        k = int(np.clip(np.searchsorted(depths, depth, side="right") - 1, 0, layout.n_slices - 2))
        weight = float(np.clip((depth - depths[k]) / (depths[k + 1] - depths[k]), 0.0, 1.0))
        plane = (
            placed.get(k)
            if weight < 1e-6
            else placed.get(k + 1)
            if weight > 1 - 1e-6
            else ((1.0 - weight) * placed.get(k) + weight * placed.get(k + 1))
        )
        out[m] = _cast_like(plane, slices.dtype)
        progress("Resampling onto a regular grid", (m + 1) / plan.n_planes)
    return out


class _PlacedSlices:
    """Slices moved onto the output canvas (float32), computed once and kept while needed."""

    def __init__(self, slices: np.ndarray, layout: StackLayout, plan: GridPlan, pad_value: float) -> None:
        self._slices = slices
        self._layout = layout
        self._plan = plan
        self._pad = float(pad_value)
        self._cache: dict[int, np.ndarray] = {}

    def get(self, k: int) -> np.ndarray:
        if k not in self._cache:
            for old in [key for key in self._cache if key < k - 1]:
                del self._cache[old]
            self._cache[k] = self._place(k)
        return self._cache[k]

    def _place(self, k: int) -> np.ndarray:
        image = self._slices[k].astype(np.float32, copy=False)
        shift_columns, shift_rows = self._layout.shifts[k] / np.asarray(self._layout.spacing_xy)
        row0, col0 = self._plan.offset_pixels
        offset = (row0 - shift_rows, col0 - shift_columns)
        shape = (self._plan.rows, self._plan.columns)
        if shape == image.shape and max(abs(offset[0]), abs(offset[1])) < 1e-6:
            return image
        return ndimage.affine_transform(
            image, (1.0, 1.0), offset=offset, output_shape=shape, order=1, mode="constant", cval=self._pad
        ).astype(np.float32, copy=False)


def _cast_like(plane: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(plane), info.min, info.max).astype(dtype)
    return plane.astype(dtype, copy=False)


def _name(path: str) -> str:
    return Path(path).name
