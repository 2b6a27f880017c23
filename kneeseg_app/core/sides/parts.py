"""Every bone per side: left femur, right femur, left tibia, right tibia, from one label map.

The label map keeps the models' contract (1 femur, 2 tibia, whatever the side); sides are
derived from it once, here, and every output that names a bone (volumes, metrics, meshes,
reports, the window's tables and 3D legend) uses this split:

* two knees: the plane ``x = midline`` (LPS; between the two groups of bone pieces, as
  :func:`~kneeseg_app.core.sides.knees.knee_midline` finds it) splits every voxel; the
  side with larger x is the patient's left (stray fragments go with the side they lie on);
* one knee: all of it gets the side :func:`~kneeseg_app.core.sides.single.single_knee_side`
  decides (or no side when nothing tells).

Parts are numbered in a derived map: the label for the right (or an unknown) side, the
label + :data:`LEFT_CODE_OFFSET` for the left, so 1 right femur, 11 left femur.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from kneeseg_app.core.labels import LEFT, SIDES, names_or_default
from kneeseg_app.core.sides.knees import TWO_KNEES_HOW, bounding_box, knee_midline
from kneeseg_app.core.sides.single import SideDecision, single_knee_side
from kneeseg_app.core.volume import DicomFacts, Volume

LEFT_CODE_OFFSET = 10
"""A left bone's value in the derived part map: its label + this."""


@dataclass(frozen=True)
class BonePart:
    """One bone of one side (or of an unknown side) with its size."""

    label: int
    """The bone's value in the label map (1 femur, 2 tibia)."""
    bone: str
    side: str | None
    voxels: int
    volume_ml: float

    @property
    def code(self) -> int:
        """The part's value in :meth:`SideSplit.part_labels`."""
        return self.label + (LEFT_CODE_OFFSET if self.side == LEFT else 0)

    @property
    def name(self) -> str:
        """'left femur', or 'femur' when the side is unknown."""
        return f"{self.side} {self.bone}" if self.side else self.bone

    @property
    def key(self) -> str:
        """'left_femur': the name in file names and JSON keys."""
        return self.name.replace(" ", "_")


@dataclass(frozen=True)
class SideSplit:
    """The bones of a label map per side, and how the sides were decided."""

    knees: int
    """0 (no bone), 1 or 2."""
    decision: SideDecision
    """For one knee: its side and the evidence; for two: positions, high confidence."""
    parts: tuple[BonePart, ...]
    """Right before left, femur before tibia; only parts with voxels."""
    midline_x: float | None = None
    """LPS x of the plane between two knees (None for one)."""
    _box: tuple[slice, ...] = field(default=(), repr=False, compare=False)
    _crop: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def side(self) -> str | None:
        """The side of a single knee (None for two knees or an unknown side)."""
        return self.decision.side if self.knees == 1 else None

    def names(self) -> dict[int, str]:
        """Part map value -> part name, for meshes, metrics and legends."""
        return {p.code: p.name for p in self.parts}

    def file_stems(self, prefix: str = "") -> dict[int, str]:
        """Part map value -> file name stem ('12345_left_femur' with ``prefix`` '12345_')."""
        return {p.code: f"{prefix}{p.key}" for p in self.parts}

    def volumes_ml(self) -> dict[str, float]:
        """Part name -> volume in mL ('left femur': 412.3)."""
        return {p.name: p.volume_ml for p in self.parts}

    def knee_line(self) -> str:
        """'Knee: right', 'Knees: right and left', 'Knee: side unknown (...)' for a person."""
        if self.knees == 2:
            return "Knees: right and left"
        if self.knees == 0:
            return "Knee: none found"
        if self.side is None:
            return f"Knee: side unknown ({self.decision.how})"
        return f"Knee: {self.side}"

    def part_labels(self, labels: Volume) -> Volume:
        """The derived map of ``labels``' grid (values: :attr:`BonePart.code`), for meshes and metrics."""
        array = np.zeros(labels.shape, dtype=np.uint8)
        if self._crop is not None:
            array[self._box] = self._crop
        return labels.with_array(array, dicom=labels.dicom, source=f"{labels.source} (per side)".strip())

    def as_dict(self) -> dict[str, object]:
        """The ``sides`` field of the JSON report (docs/segment-report.md)."""
        return {
            "knees": self.knees,
            "side": self.side,
            "how": self.decision.how,
            "confidence": self.decision.confidence,
            "midline_x_mm": None if self.midline_x is None else round(self.midline_x, 2),
            "bones": [
                {"name": p.name, "bone": p.bone, "side": p.side, "label": p.label, "volume_ml": round(p.volume_ml, 3)}
                for p in self.parts
            ],
        }


def split_sides(
    labels: Volume,
    label_names: Mapping[int, str] | Mapping[str, str] | None = None,
    *,
    ct: Volume | None = None,
    facts: DicomFacts | None = None,
) -> SideSplit:
    """Split ``labels`` per side; ``ct`` (same grid) and ``facts`` help name a single knee's side."""
    names = names_or_default(label_names)
    box = bounding_box(labels.array > 0)
    if box is None:
        return SideSplit(0, SideDecision(None, "no bone in the label map", "none"), ())
    crop = labels.array[box]
    midline, decision = side_decision(labels, ct=ct, facts=facts)
    left = _left_of_midline(labels, box, midline) if midline is not None else decision.side == LEFT
    parts_map = np.where(left & (crop > 0), crop + LEFT_CODE_OFFSET, crop).astype(np.uint8)
    counts = np.bincount(parts_map.ravel(), minlength=2 * LEFT_CODE_OFFSET + 1)
    voxel_ml = float(np.prod(labels.spacing_zyx)) / 1000.0
    sides = SIDES if midline is not None else (decision.side,)
    parts = tuple(
        BonePart(label, names[label], side, int(n), n * voxel_ml)
        for side in sides
        for label in sorted(names)
        if (n := int(counts[label + (LEFT_CODE_OFFSET if side == LEFT else 0)])) > 0
    )
    return SideSplit(2 if midline is not None else 1, decision, parts, midline, box, parts_map)


def side_decision(
    labels: Volume, *, ct: Volume | None = None, facts: DicomFacts | None = None
) -> tuple[float | None, SideDecision]:
    """(midline x, decision): the one rule that names sides everywhere (split, report, checks, window).

    Two knees: the LPS x of the plane between them and a high-confidence decision with no
    single side; one knee: no midline and :func:`single_knee_side`'s decision.
    """
    midline = knee_midline(labels)
    if midline is not None:
        return midline, SideDecision(None, TWO_KNEES_HOW, "high")
    return None, single_knee_side(labels, ct, facts)


def _left_of_midline(labels: Volume, box: tuple[slice, ...], midline: float) -> np.ndarray | bool:
    """Boolean (crop shape): the voxel centre lies at LPS x > ``midline`` (the patient's left).

    x is linear in the voxel index: one row of columns when x follows the columns only
    (every axial scan), else a slab of slices at a time (no full-size coordinate array).
    """
    step = labels.direction[0, :] * np.asarray(labels.spacing_zyx[::-1])  # d x / d (i, j, k)
    k, j, i = (np.arange(s.start, s.stop, dtype=np.float64) for s in box)
    shape = tuple(s.stop - s.start for s in box)
    plane = labels.origin_xyz[0] + step[1] * j[:, None] + step[0] * i[None, :]
    if abs(step[1]) < 1e-12 and abs(step[2]) < 1e-12:
        return np.broadcast_to((plane[:1] > midline)[None], shape)
    left = np.empty(shape, dtype=bool)
    for start in range(0, len(k), 32):
        left[start : start + 32] = plane[None] + step[2] * k[start : start + 32, None, None] > midline
    return left


__all__ = ["LEFT_CODE_OFFSET", "BonePart", "SideSplit", "side_decision", "split_sides"]
