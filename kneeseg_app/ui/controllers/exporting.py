"""Saving results: label maps in the source geometry, screenshots, metrics tables. Qt-free.

Every writer refuses the user's input folders (the core's one rule,
:mod:`kneeseg_app.core.protection`, checked once per save by the writer) and writes
atomically; whether to overwrite an existing file is asked by the window first.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from kneeseg_app.core.atomic import write_atomic
from kneeseg_app.core.errors import OutputError
from kneeseg_app.core.protection import refuse_input_folders

LABEL_FORMATS = "NIfTI (*.nii.gz *.nii);;NRRD (*.nrrd);;MetaImage (*.mha)"
LABEL_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".mha")
SEG_FORMATS = "DICOM SEG (*.dcm)"
SEG_SUFFIXES = (".dcm",)


def with_suffix(path: str | Path, suffixes: Sequence[str], default: str) -> Path:
    """The path with a known suffix (``default`` appended when it has none of them)."""
    path = Path(path)
    return path if any(path.name.lower().endswith(s) for s in suffixes) else path.with_name(path.name + default)


def suggested_name(case_title: str, what: str, suffix: str) -> str:
    """'knee-ct_labels.nii.gz': the case name made safe for a file name."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in case_title).strip("_.") or "kneeseg"
    return f"{safe[:60]}_{what}{suffix}"


def save_label_map(labels: Any, path: str | Path, protected: Sequence[Path], overwrite: bool) -> Path:
    """Write the label map on the CT's own grid (NIfTI/NRRD/MHA by the suffix)."""
    from kneeseg_app.core import imageio

    path = with_suffix(path, LABEL_SUFFIXES, ".nii.gz")
    return imageio.write_label_map(labels, path, overwrite=overwrite, protected=tuple(protected))


def dicom_seg_problem(ct: Any) -> str | None:
    """Why the open CT cannot get a DICOM SEG (one sentence), or None (the core decides)."""
    from kneeseg_app.core.dicom.seg import dicom_seg_problem as problem

    return problem(ct)


def save_dicom_seg(
    labels: Any,
    ct: Any,
    path: str | Path,
    protected: Sequence[Path],
    overwrite: bool,
    model_name: str = "",
    label_names: dict[int, str] | None = None,
) -> Path:
    """The label map as a DICOM SEG referencing the CT's own slices (the CLI's ``--seg`` writer)."""
    from kneeseg_app.core.dicom.seg import write_dicom_seg

    path = with_suffix(path, SEG_SUFFIXES, ".dcm")
    return write_dicom_seg(
        labels,
        ct,
        path,
        labels_map=label_names or None,
        algorithm_name=f"KneeSeg {model_name}".strip(),
        overwrite=overwrite,
        protected=tuple(protected),
    )


def save_metrics_csv(
    metrics: dict[str, Any], case_id: str, path: str | Path, protected: Sequence[Path], overwrite: bool
) -> Path:
    """The metrics table of one case (one row per bone) as CSV."""
    from kneeseg_app.core import metrics as core_metrics

    path = with_suffix(path, (".csv",), ".csv")
    refuse_input_folders(path, protected)
    return core_metrics.write_cases_csv([case_id], [metrics], path, overwrite=overwrite)


def save_image(save: Callable[[str], bool], path: str | Path, protected: Sequence[Path], overwrite: bool) -> Path:
    """Write a PNG through ``save(tmp_path) -> ok`` (e.g. QPixmap.save), atomically."""
    path = with_suffix(path, (".png",), ".png")
    refuse_input_folders(path, protected)

    def write(tmp: Path) -> None:
        if not save(str(tmp)):
            raise OutputError(f"Cannot write the image {path.name}.")

    return write_atomic(path, write, overwrite=overwrite)
