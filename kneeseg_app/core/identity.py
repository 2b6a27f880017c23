"""Whose scan it is: the patient and study facts of a DICOM series, shown and hidden in one place.

A surgeon must see whose knee is on screen before it goes to prosthesis design, and a
teacher must be able to hide it all for a screenshot. Every place that shows or uses an
identifier (series chooser, case panel, title, file names) asks this module, so "hide
identifiers" and "leave identifiers out of file names" cannot miss one.

Only the standard library: :class:`~kneeseg_app.core.volume.DicomFacts` holds a
:class:`PatientIdentity`, so this module sits below the volume.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

HIDDEN = "(hidden)"
"""What every identifier reads as while identifiers are hidden."""


@dataclass(frozen=True)
class PatientIdentity:
    """Patient and study identifiers as the DICOM header gives them (empty strings when absent).

    Dates stay in DICOM's ``YYYYMMDD`` form; :func:`format_date` shows them.
    """

    name: str = ""
    patient_id: str = ""
    birth_date: str = ""
    study_date: str = ""
    study_description: str = ""
    accession_number: str = ""
    laterality: str = ""
    """'L' or 'R' from Laterality / Image Laterality (the side a single-knee scan shows), else ''."""

    @property
    def is_empty(self) -> bool:
        """True when the header named nobody (anonymised data, NIfTI input)."""
        return not any((self.name, self.patient_id, self.birth_date, self.accession_number))

    @property
    def display_name(self) -> str:
        """'DOE^JOHN^^DR' as 'Doe, John' (DICOM person name: family^given^middle^prefix^suffix)."""
        parts = [p.strip() for p in self.name.split("^")]
        family, given = (parts + ["", ""])[:2]
        shown = ", ".join(p for p in (family, given) if p)
        return shown.title() if shown.isupper() else shown

    @property
    def key(self) -> tuple[str, str]:
        """What tells two patients apart: the ID, and the name for data without IDs."""
        return (self.patient_id.strip(), self.name.strip().upper())

    def who(self, hidden: bool = False) -> str:
        """'Doe, John (ID 12345)' for titles and questions; :data:`HIDDEN` when hidden."""
        if hidden:
            return HIDDEN
        name = self.display_name or "unnamed patient"
        return f"{name} (ID {self.patient_id})" if self.patient_id else name

    def rows(self, hidden: bool = False) -> list[tuple[str, str]]:
        """(label, value) lines for the case panel, every identifier blanked when ``hidden``."""
        laterality = {"L": "left", "R": "right"}.get(self.laterality.upper(), self.laterality)
        values = [
            ("patient", self.display_name, True),
            ("patient ID", self.patient_id, True),
            ("born", format_date(self.birth_date), True),
            ("study date", format_date(self.study_date), True),
            ("study", self.study_description, False),
            ("accession", self.accession_number, True),
            ("laterality", laterality, False),
        ]
        return [(label, HIDDEN if hidden and secret else value) for label, value, secret in values if value]


def format_date(value: str) -> str:
    """A DICOM date ('20240131') as ISO '2024-01-31'; anything else unchanged."""
    text = value.strip()
    if re.fullmatch(r"\d{8}", text):
        return f"{text[:4]}-{text[4:6]}-{text[6:]}"
    return text


def file_prefix(identity: PatientIdentity | None, anonymous: bool = False) -> str:
    """'12345_' to put before 'left_femur.stl', '' without an ID or when identifiers are left out.

    The ID is reduced to characters every file system accepts.
    """
    if anonymous or identity is None or not identity.patient_id.strip():
        return ""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", identity.patient_id.strip()).strip("._")
    return f"{safe[:64]}_" if safe else ""


def distinct_patients(identities: Iterable[PatientIdentity]) -> list[PatientIdentity]:
    """The different patients among ``identities`` (first seen first); unnamed, ID-less ones are not counted."""
    seen: dict[tuple[str, str], PatientIdentity] = {}
    for identity in identities:
        if identity.key != ("", "") and identity.key not in seen:
            seen[identity.key] = identity
    return list(seen.values())


def several_patients_question(identities: Iterable[PatientIdentity]) -> str:
    """The question put before opening a folder holding several patients ('' for one patient)."""
    patients = distinct_patients(identities)
    if len(patients) < 2:
        return ""
    names = "; ".join(p.who() for p in patients)
    return (
        f"This folder holds scans of {len(patients)} different patients: {names}. "
        "Check that you open the right patient's scan. Continue and choose a series?"
    )
