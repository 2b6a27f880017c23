"""The case table a hospital fills in: which image, which label map, which patient.

CSV with a header; columns ``case,image,labels,patient`` are required, ``split``
(``train``/``test``, or empty) is optional, other columns are kept for people and
ignored here. Relative paths are relative to the CSV's folder; ``image`` is a DICOM
folder or an image file (NIfTI, NRRD, MHA).

The table is checked as a whole before any image is read: missing columns, empty
cells, duplicate or unusable case names, unknown split values and patients that an
explicit split puts on both sides are all reported together in one error.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from kneeseg_app.core.atomic import write_atomic
from trainer.errors import DatasetError

TABLE_NAME = "cases.csv"
REQUIRED = ("case", "image", "labels", "patient")
SPLITS = ("train", "test")
_CASE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")


@dataclass(frozen=True)
class CaseRow:
    case: str
    image: Path
    labels: Path
    patient: str
    split: str | None = None
    """'train', 'test' or None (decided by the patient split)."""


def read_case_table(path: str | os.PathLike[str]) -> list[CaseRow]:
    """Read and check a case table; DatasetError lists every problem found."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DatasetError(f"The case table {path} cannot be read ({exc.strerror or exc}).") from exc
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise DatasetError(
            f"The case table {path.name} lacks the column(s) {', '.join(missing)} (needed: {','.join(REQUIRED)})."
        )
    rows: list[CaseRow] = []
    problems: list[str] = []
    for line, raw in enumerate(reader, start=2):
        cells = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items()}
        row, problem = _row(cells, path.parent, line)
        if problem:
            problems.append(problem)
        elif row is not None:
            rows.append(row)
    problems += _duplicate_cases(rows) + _patients_on_both_sides(rows)
    if problems:
        shown = "; ".join(problems[:10]) + (f"; and {len(problems) - 10} more" if len(problems) > 10 else "")
        raise DatasetError(f"The case table {path.name} has problems: {shown}.")
    if not rows:
        raise DatasetError(f"The case table {path.name} lists no cases.")
    return rows


def _row(cells: Mapping[str, str], base: Path, line: int) -> tuple[CaseRow | None, str | None]:
    if not any(cells.values()):
        return None, None  # blank line
    empty = [c for c in REQUIRED if not cells.get(c)]
    if empty:
        return None, f"line {line} has no {', '.join(empty)}"
    case = cells["case"]
    if not _CASE_NAME.match(case):
        return None, f"line {line}: case name '{case}' may only hold letters, digits, '.' and '-'"
    split = cells.get("split", "").lower() or None
    if split is not None and split not in SPLITS:
        return None, f"line {line}: split '{cells['split']}' is neither 'train' nor 'test'"
    return CaseRow(case, base / cells["image"], base / cells["labels"], cells["patient"], split), None


def _duplicate_cases(rows: Sequence[CaseRow]) -> list[str]:
    seen: set[str] = set()
    duplicates = sorted({r.case for r in rows if r.case in seen or seen.add(r.case)})  # type: ignore[func-returns-value]
    return [f"case name(s) used twice: {', '.join(duplicates)}"] if duplicates else []


def _patients_on_both_sides(rows: Sequence[CaseRow]) -> list[str]:
    sides: dict[str, set[str]] = {}
    for row in rows:
        if row.split:
            sides.setdefault(row.patient, set()).add(row.split)
    both = sorted(p for p, s in sides.items() if len(s) > 1)
    if both:
        return [
            f"patient(s) {', '.join(both)} have cases in both the train and the test split "
            "(a patient must be on one side only)"
        ]
    return []


def write_case_table(
    rows: Sequence[CaseRow], path: str | os.PathLike[str], extra: Mapping[str, Mapping[str, str]] | None = None
) -> Path:
    """Write a case table (paths as given; relative ones stay relative), atomically."""
    extra = extra or {}
    extra_columns = list(dict.fromkeys(k for values in extra.values() for k in values))
    split = any(r.split for r in rows)
    header = [*REQUIRED, *(["split"] if split else []), *extra_columns]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for r in rows:
        cells = [r.case, r.image.as_posix(), r.labels.as_posix(), r.patient, *([r.split or ""] if split else [])]
        writer.writerow(cells + [extra.get(r.case, {}).get(k, "") for k in extra_columns])
    text = buffer.getvalue()
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
