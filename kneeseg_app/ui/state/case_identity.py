"""What the title and the case panel say about whose scan is open, with identifiers shown or hidden.

Kept apart from the widgets so the rule is in one place and testable: while identifiers
are hidden (screenshots, teaching) neither the patient's name, ID, birth or study date,
accession number, nor the folder name (often the patient's name on a CD) appears.
"""

from __future__ import annotations

from typing import Any

from kneeseg_app.core.identity import HIDDEN, PatientIdentity

APP = "KneeSeg"


def identity_of(case: Any) -> PatientIdentity:
    """The case's patient identity (empty for NIfTI and other non-DICOM input)."""
    dicom = getattr(getattr(case, "volume", None), "dicom", None)
    return getattr(dicom, "identity", None) or PatientIdentity()


def window_title(case: Any | None, hidden: bool = False) -> str:
    """'KneeSeg – Doe, John (ID 12345) – knee_ct - Knee 1.0 Bone'; no names, IDs or folder while hidden."""
    if case is None:
        return APP
    identity = identity_of(case)
    if hidden:
        dicom = getattr(case.volume, "dicom", None)
        what = getattr(dicom, "series_description", "") or "case"
        return f"{APP} – {HIDDEN} – {what}"
    who = "" if identity.is_empty else f"{identity.who()} – "
    return f"{APP} – {who}{case.title}"


def case_text(case: Any | None, hidden: bool = False, knee_line: str = "") -> str:
    """The case panel: identity rows (blanked when hidden), the knee's side, then the volume's facts."""
    if case is None:
        return "No case open."
    rows = identity_of(case).rows(hidden)
    width = max([11, *(len(label) for label, _ in rows)])
    lines = [f"{label:<{width}} {value}" for label, value in rows]
    if knee_line:
        lines.append(knee_line)
    if lines:
        lines.append("")
    return "\n".join([*lines, case.volume.describe()])
