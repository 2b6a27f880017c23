"""The one volume type of KneeSeg: voxels in (z, y, x) with LPS patient geometry.

Conventions (fixed, relied on everywhere):

* ``array`` is indexed ``[z, y, x]`` (slice, row, column), as SimpleITK's
  ``GetArrayFromImage`` returns it.
* ``spacing_zyx`` is in millimetres **in array axis order** (z, y, x), so numpy code
  (metrics, resampling) can use it directly.
* ``origin_xyz`` is the LPS position in mm of voxel ``[0, 0, 0]``'s centre.
* ``direction`` is a 3x3 matrix whose column ``j`` is the LPS unit vector of ITK axis
  ``j`` (x = column, y = row, z = slice), exactly SimpleITK's ``GetDirection()``.

So the LPS position of voxel ``[k, j, i]`` is
``origin_xyz + direction @ ([i, j, k] * spacing_xyz)``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from kneeseg_app.core.identity import PatientIdentity


@dataclass(frozen=True)
class FilledGap:
    """A gap between two real slices that was filled by interpolation because the caller asked for it.

    Positions are the patient coordinate (LPS, mm) of the slice centres on either side,
    along ``axis`` ('x', 'y' or 'z': the one the slices advance along).
    """

    axis: str
    start_mm: float
    end_mm: float
    width_mm: float
    nominal_step_mm: float
    planes: tuple[int, ...]
    """Slice indices (array axis 0) of the volume that were interpolated, not measured."""


@dataclass(frozen=True)
class DicomFacts:
    """DICOM header facts a user needs to trust (or question) a volume."""

    modality: str = ""
    series_description: str = ""
    slice_thickness_mm: float | None = None
    convolution_kernel: str = ""
    manufacturer: str = ""
    patient_position: str = ""
    series_instance_uid: str = ""
    study_instance_uid: str = ""
    files: tuple[str, ...] = ()
    """Source files in slice order (needed to reference the series from a DICOM SEG)."""
    body_part: str = ""
    """Body Part Examined as the header says it (refuses a head CT before any work)."""
    filled_gaps: tuple[FilledGap, ...] = ()
    """Gaps filled by interpolation on request (``allow_gaps``); empty when every slice is measured."""
    resampled: bool = False
    """True when the slices were interpolated onto a regular grid when read (gantry tilt, uneven
    spacing, filled gaps): slice k of the volume is then not file k, so a DICOM SEG cannot reference it."""
    identity: PatientIdentity = field(default_factory=PatientIdentity)
    """Patient and study identifiers from the header (shown, or hidden, by the window; never in file names on request)."""

    @property
    def interpolated_slices(self) -> tuple[int, ...]:
        """Every slice index of the volume that interpolation invented inside a gap, sorted."""
        return tuple(sorted({p for gap in self.filled_gaps for p in gap.planes}))


@dataclass
class Volume:
    """A 3D image (CT in HU, or a label map) with its patient-space geometry."""

    array: np.ndarray
    spacing_zyx: tuple[float, float, float]
    origin_xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    dicom: DicomFacts | None = None
    source: str = ""
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise ValueError(f"a volume is 3D, got an array of shape {self.array.shape}")
        self.spacing_zyx = tuple(float(s) for s in self.spacing_zyx)  # type: ignore[assignment]
        self.origin_xyz = tuple(float(o) for o in self.origin_xyz)  # type: ignore[assignment]
        self.direction = np.asarray(self.direction, dtype=np.float64).reshape(3, 3)

    # ----- geometry -------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.array.shape)  # type: ignore[return-value]

    @property
    def spacing_xyz(self) -> tuple[float, float, float]:
        z, y, x = self.spacing_zyx
        return (x, y, z)

    @property
    def voxel_volume_ml(self) -> float:
        return float(np.prod(self.spacing_zyx)) / 1000.0

    def index_to_lps(self, index_zyx: Any) -> np.ndarray:
        """LPS position (mm) of voxel centres given as (..., 3) indices in (z, y, x)."""
        idx = np.asarray(index_zyx, dtype=np.float64)[..., ::-1]
        return np.asarray(self.origin_xyz) + (idx * np.asarray(self.spacing_xyz)) @ self.direction.T

    def lps_to_index(self, point_xyz: Any) -> np.ndarray:
        """Continuous (z, y, x) index of LPS points given as (..., 3)."""
        rel = np.asarray(point_xyz, dtype=np.float64) - np.asarray(self.origin_xyz)
        ijk = (rel @ np.linalg.inv(self.direction).T) / np.asarray(self.spacing_xyz)
        return ijk[..., ::-1]

    def same_grid(self, other: Volume, tol_mm: float = 1e-3) -> bool:
        """True when ``other`` has the same shape and voxel positions (within tol)."""
        if self.shape != other.shape:
            return False
        corners = np.array([[0, 0, 0], [s - 1 for s in self.shape]], dtype=np.float64)
        return bool(np.allclose(self.index_to_lps(corners), other.index_to_lps(corners), atol=tol_mm)) and bool(
            np.allclose(self.direction, other.direction, atol=1e-4)
        )

    def with_array(self, array: np.ndarray, **changes: Any) -> Volume:
        """A volume on the same grid holding ``array`` (e.g. a label map for this CT)."""
        if array.shape != self.array.shape and "spacing_zyx" not in changes:
            raise ValueError(f"array shape {array.shape} differs from the grid {self.array.shape}")
        return replace(self, array=array, warnings=list(changes.pop("warnings", [])), **changes)

    # ----- SimpleITK bridge ----------------------------------------------
    def to_sitk(self) -> Any:
        """A SimpleITK image with this geometry (shares no memory with ``array``)."""
        import SimpleITK as sitk

        image = sitk.GetImageFromArray(self.array)
        image.SetSpacing(self.spacing_xyz)
        image.SetOrigin(self.origin_xyz)
        image.SetDirection(tuple(float(v) for v in self.direction.ravel()))
        return image

    @classmethod
    def from_sitk(cls, image: Any, **fields: Any) -> Volume:
        """Build a volume from a 3D SimpleITK image (the array is copied once)."""
        import SimpleITK as sitk

        if image.GetDimension() != 3:
            raise ValueError(f"expected a 3D image, got {image.GetDimension()}D")
        sx, sy, sz = image.GetSpacing()
        return cls(
            array=sitk.GetArrayFromImage(image),
            spacing_zyx=(sz, sy, sx),
            origin_xyz=tuple(image.GetOrigin()),
            direction=np.array(image.GetDirection()).reshape(3, 3),
            **fields,
        )

    def describe(self) -> str:
        """A few lines for a person: size, spacing, extent, HU range, DICOM facts."""
        z, y, x = self.shape
        sz, sy, sx = self.spacing_zyx
        lines = [
            f"size        {x} x {y} x {z} voxels (columns x rows x slices)",
            f"spacing     {sx:.3f} x {sy:.3f} x {sz:.3f} mm",
            f"extent      {x * sx:.1f} x {y * sy:.1f} x {z * sz:.1f} mm",
            f"origin      ({self.origin_xyz[0]:.2f}, {self.origin_xyz[1]:.2f}, {self.origin_xyz[2]:.2f}) mm LPS",
            f"orientation {orientation_code(self.direction)}",
        ]
        if self.array.size:
            lines.append(
                f"values      {float(self.array.min()):.0f} .. {float(self.array.max()):.0f} ({self.array.dtype})"
            )
        if self.dicom is not None:
            d = self.dicom
            thick = f"{d.slice_thickness_mm:.2f} mm" if d.slice_thickness_mm else "?"
            lines += [
                f"modality    {d.modality or '?'}",
                f"series      {d.series_description or '(no description)'}",
                f"scanner     {d.manufacturer or '?'}, kernel {d.convolution_kernel or '?'}, thickness {thick}",
                f"position    {d.patient_position or '?'}",
            ]
        for warning in self.warnings:
            lines.append(f"WARNING     {warning}")
        return "\n".join(lines)


def orientation_code(direction: np.ndarray) -> str:
    """Three-letter code of where each ITK axis points, e.g. 'LPS' for a standard axial CT.

    The letter names the patient direction the axis *increases towards* (ITK/DICOM
    convention: x towards L, y towards P, z towards S for identity direction).
    Each patient direction is used once: the axes get the assignment that lines them up
    best as a whole, so a 45° oblique volume gets a valid code (never 'RLS').
    """
    letters = (("R", "L"), ("A", "P"), ("I", "S"))
    matrix = np.asarray(direction, dtype=np.float64).reshape(3, 3)
    best = max(itertools.permutations(range(3)), key=lambda rows: sum(abs(matrix[rows[j], j]) for j in range(3)))
    return "".join(letters[k][1] if matrix[k, j] > 0 else letters[k][0] for j, k in enumerate(best))
