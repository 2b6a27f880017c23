"""One rule for holes in a slice stack, whatever made them.

A file never exported, pixels that cannot be decoded and a header cut short all leave
the same thing behind: two neighbouring slices further apart than the series' own step.
Filling that by interpolation invents anatomy (a bone edge, a fracture line), so a gap
wider than ``GAP_LIMIT_STEPS`` nominal steps is refused unless the caller asks for it to
be filled; filled gaps are recorded so a report can list the invented slices.

The nominal step is the reconstruction step of the slices on both sides of the gap.
Reconstructions with a different slice thickness are different sections (a head CT at
4 mm then at 7 mm): each has its own step, so a 7 mm step after a 4 mm section is
resampled geometry, not a missing slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kneeseg_app.core.dicom.geometry import StackLayout, regular_step
from kneeseg_app.core.dicom.headers import SliceHeader
from kneeseg_app.core.errors import SliceGapError
from kneeseg_app.core.volume import FilledGap

GAP_LIMIT_STEPS = 1.5
"""A gap wider than this many nominal steps is a hole in the series."""
_SAME_THICKNESS_MM = 0.01
_ON_A_SLICE = 0.05
"""Output planes closer than this fraction of the step to a real slice are that slice."""


@dataclass(frozen=True)
class StackGap:
    """A hole between two neighbouring slices (indices into the sorted stack)."""

    after: int
    width_mm: float
    nominal_step_mm: float
    start_mm: float
    end_mm: float
    axis: str
    """The patient axis ('x', 'y' or 'z', LPS) the slices advance along; positions are slice centres."""
    causes: tuple[str, ...] = ()
    """Names of files that belonged in the gap but could not be read."""

    def where(self) -> str:
        return f"between {self.axis} = {self.start_mm:.1f} mm and {self.axis} = {self.end_mm:.1f} mm"


def nominal_steps(layout: StackLayout, thickness_mm: list[float | None]) -> np.ndarray:
    """The nominal step (mm) at each gap of a sorted stack: its section's step, the larger one at a section boundary."""
    sections = _sections(thickness_mm)
    section_step = [_section_step(layout.gaps, start, stop, thickness_mm[start]) for start, stop in sections]
    section_of = np.empty(layout.n_slices, dtype=int)
    for index, (start, stop) in enumerate(sections):
        section_of[start:stop] = index
    steps = np.asarray(section_step, dtype=np.float64)
    return np.maximum(steps[section_of[:-1]], steps[section_of[1:]])


def find_gaps(layout: StackLayout, headers: list[SliceHeader], lost: dict[float, str] | None = None) -> list[StackGap]:
    """Every gap of the sorted stack wider than GAP_LIMIT_STEPS nominal steps, widest first.

    ``lost`` maps the depth of an unreadable slice (its position projected on the
    normal, mm) to its file name, so the message can say what fell out.
    """
    if layout.n_slices < 2:
        return []
    gaps = layout.gaps
    steps = nominal_steps(layout, [h.slice_thickness_mm for h in headers])
    axis = int(np.argmax(np.abs(layout.axes[:, 2])))
    centres = _slice_centres(layout)
    base = float(layout.origin @ layout.axes[:, 2])
    found = []
    for k in np.flatnonzero(gaps > GAP_LIMIT_STEPS * steps + 1e-6):
        low, high = float(layout.depths[k]), float(layout.depths[k + 1])
        causes = tuple(sorted(name for depth, name in (lost or {}).items() if base + low < depth < base + high))
        found.append(
            StackGap(
                after=int(k),
                width_mm=float(gaps[k]),
                nominal_step_mm=float(steps[k]),
                start_mm=float(centres[k, axis]),
                end_mm=float(centres[k + 1, axis]),
                axis="xyz"[axis],
                causes=causes,
            )
        )
    return sorted(found, key=lambda g: -g.width_mm)


def require_no_gaps(gaps: list[StackGap], n_slices: int) -> None:
    """Raise SliceGapError naming the widest gap (in mm and where) when there is any."""
    if not gaps:
        return
    gap = gaps[0]
    cause = f" ({_files(gap.causes)} could not be read)" if gap.causes else ""
    more = f" and {len(gaps) - 1} more gap(s)" if len(gaps) > 1 else ""
    raise SliceGapError(
        f"Slices are missing: a {gap.width_mm:.1f} mm gap {gap.where()}{cause}{more}, where the series advances by "
        f"{gap.nominal_step_mm:.2f} mm (after slice {gap.after + 1} of {n_slices}); filling it would invent anatomy, "
        "so export the complete series or ask for interpolation (--allow-gaps).",
        gaps=tuple(gaps),
    )


def filled(gaps: list[StackGap], layout: StackLayout, step_mm: float, n_planes: int) -> tuple[FilledGap, ...]:
    """What interpolation invented: for each gap, the output planes strictly inside it."""
    plane_depths = np.minimum(np.arange(n_planes) * step_mm, float(layout.depths[-1]))
    margin = _ON_A_SLICE * step_mm
    records = []
    for gap in sorted(gaps, key=lambda g: g.after):
        low, high = float(layout.depths[gap.after]), float(layout.depths[gap.after + 1])
        planes = np.flatnonzero((plane_depths > low + margin) & (plane_depths < high - margin))
        records.append(
            FilledGap(
                axis=gap.axis,
                start_mm=gap.start_mm,
                end_mm=gap.end_mm,
                width_mm=gap.width_mm,
                nominal_step_mm=gap.nominal_step_mm,
                planes=tuple(int(p) for p in planes),
            )
        )
    return tuple(records)


def filled_warning(records: tuple[FilledGap, ...]) -> str:
    """The sentence shown (and kept in the volume's warnings) when gaps were filled as asked."""
    planes = sum(len(r.planes) for r in records)
    first = records[0]
    where = f"{first.axis} = {first.start_mm:.1f} to {first.end_mm:.1f} mm"
    more = f" and {len(records) - 1} more gap(s)" if len(records) > 1 else ""
    return (
        f"Interpolated {planes} slice(s) across a {first.width_mm:.1f} mm gap ({where}){more}, as asked: "
        "those slices are invented, not measured."
    )


def _sections(thickness_mm: list[float | None]) -> list[tuple[int, int]]:
    """[start, stop) runs of consecutive slices with one slice thickness."""
    bounds = [0]
    for k in range(1, len(thickness_mm)):
        a, b = thickness_mm[k - 1], thickness_mm[k]
        if (a is None) != (b is None) or (a is not None and b is not None and abs(a - b) > _SAME_THICKNESS_MM):
            bounds.append(k)
    bounds.append(len(thickness_mm))
    return list(zip(bounds[:-1], bounds[1:]))


def _section_step(gaps: np.ndarray, start: int, stop: int, thickness: float | None) -> float:
    """A section's regular step from its own gaps when it has several, else its thickness, else the whole stack's."""
    inner = gaps[start : stop - 1]
    if len(inner) >= 2:
        return regular_step(inner)
    if thickness:
        return float(thickness)
    return regular_step(gaps)


def _slice_centres(layout: StackLayout) -> np.ndarray:
    """(k, 3) LPS position of the centre of each sorted slice."""
    sx, sy = layout.spacing_xy
    half = 0.5 * (layout.columns - 1) * sx * layout.axes[:, 0] + 0.5 * (layout.rows - 1) * sy * layout.axes[:, 1]
    corners = layout.origin + layout.shifts[:, :1] * layout.axes[:, 0] + layout.shifts[:, 1:] * layout.axes[:, 1]
    corners = corners + layout.depths[:, None] * layout.axes[:, 2]
    return corners + half


def _files(names: tuple[str, ...]) -> str:
    shown = ", ".join(Path(n).name for n in names[:2])
    return shown + (f" and {len(names) - 2} more" if len(names) > 2 else "")
