"""Which knee a single-knee scan shows: the header when it says so, else the fibula.

Nothing in a lone knee's position tells its side (the patient may lie anywhere on the
table, and the field of view is centred on the knee), so the evidence is, in order:

1. the DICOM Laterality / Image Laterality element ('L' / 'R'), set by the radiographer;
2. side words in Body Part Examined or the series / study description ('LEFT KNEE', 'KNIE RECHTS', 'KNEE_L');
3. the anatomy: the fibula lies lateral to the tibia (:func:`~kneeseg_app.core.sides.fibula.fibula_side`);
4. for DICOM only, where the knee lies against the scanner's centre line (x = 0): a patient lies
   centred on the table, so a knee well off the centre line is on that side of the body (low
   confidence: a NIfTI's origin can be anywhere, and a patient may lie off centre).

Header and anatomy are both read; when they disagree the header wins and the decision
says so, so a wrongly tagged scan is noticed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.labels import LEFT, RIGHT
from kneeseg_app.core.sides.fibula import fibula_side
from kneeseg_app.core.sides.knees import bounding_box, split_knees
from kneeseg_app.core.volume import DicomFacts, Volume

LEFT_WORDS = frozenset({"LEFT", "LT", "LINKS", "GAUCHE", "SINISTRO", "IZQUIERDA"})
RIGHT_WORDS = frozenset({"RIGHT", "RT", "RECHTS", "DROIT", "DROITE", "DESTRO", "DERECHA"})
CENTRE_LINE_MM = 30.0
"""A single knee whose centre lies further than this from x = 0 (DICOM) is named by that position."""
KNEE_WORDS = frozenset({"KNEE", "KNIE", "GENOU", "GINOCCHIO", "RODILLA"})
"""A lone 'L' or 'R' counts only next to one of these ('KNEE L', 'R_KNEE')."""


@dataclass(frozen=True)
class SideDecision:
    """The side of one knee, how it was found, and how sure that is."""

    side: str | None
    """'left', 'right' or None (nothing told)."""
    how: str
    confidence: str
    """'high' (header), 'medium' (anatomy), 'low' (header and anatomy disagree) or 'none'."""


def side_from_header(facts: DicomFacts | None) -> tuple[str | None, str]:
    """(side, which element said so) from the DICOM header; (None, '') when it says nothing."""
    if facts is None:
        return None, ""
    code = facts.identity.laterality.upper()
    if code in ("L", "R"):
        return (LEFT if code == "L" else RIGHT), f"the DICOM Laterality element says {code}"
    for element, text in (
        ("Body Part Examined", facts.body_part),
        ("series description", facts.series_description),
        ("study description", facts.identity.study_description),
    ):
        side = side_in_text(text)
        if side is not None:
            return side, f"the {element} '{text.strip()}' names the {side} knee"
    return None, ""


def side_in_text(text: str) -> str | None:
    """'left' / 'right' when ``text`` names one side only ('LEFT KNEE', 'Knie re.' is not enough), else None."""
    tokens = re.findall(r"[A-Z]+", text.upper())
    found = set()
    for index, token in enumerate(tokens):
        near_knee = any(t in KNEE_WORDS for t in tokens[max(index - 1, 0) : index + 2])
        if token in LEFT_WORDS or (token == "L" and near_knee):
            found.add(LEFT)
        elif token in RIGHT_WORDS or (token == "R" and near_knee):
            found.add(RIGHT)
    return found.pop() if len(found) == 1 else None


def single_knee_side(labels: Volume, ct: Volume | None = None, facts: DicomFacts | None = None) -> SideDecision:
    """The side of the one knee in ``labels`` (1 femur, 2 tibia), from ``facts`` and the CT's fibula."""
    facts = facts if facts is not None else (ct.dicom if ct is not None else None)
    told, element = side_from_header(facts)
    seen = None
    if ct is not None:
        regions = split_knees(labels)
        seen = fibula_side(ct, labels, regions[0]) if regions else None
    if told is not None and seen is not None and told != seen:
        return SideDecision(told, f"{element}, but the fibula lies on the {seen} knee's lateral side: check", "low")
    if told is not None:
        return SideDecision(told, element, "high")
    if seen is not None:
        return SideDecision(seen, f"the fibula lies lateral to the tibia: a {seen} knee", "medium")
    placed = side_from_centre_line(labels) if facts is not None else None
    if placed is not None:
        return placed
    why = "no CT to look for the fibula" if ct is None else "the fibula was not found"
    return SideDecision(None, f"one knee; the header names no side and {why}", "none")


def side_from_centre_line(labels: Volume) -> SideDecision | None:
    """The side of a knee lying clearly off the scanner's centre line (x = 0 in DICOM patient coordinates)."""
    box = bounding_box(labels.array > 0)
    if box is None:
        return None
    centre = labels.index_to_lps(np.array([(s.start + s.stop - 1) / 2.0 for s in box]))
    x = float(centre[0])
    if abs(x) <= CENTRE_LINE_MM:
        return None
    side = LEFT if x > 0 else RIGHT
    how = f"the knee lies {abs(x):.0f} mm to the patient's {side} of the scanner's centre line (no header side, no fibula)"
    return SideDecision(side, how, "low")
