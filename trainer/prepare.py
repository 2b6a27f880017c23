"""Turn a hospital's images and label maps into an nnU-Net v2 raw dataset plus a test set.

Output (``RAW/DatasetXXX_Name``)::

    imagesTr/<case>_0000.nii.gz  labelsTr/<case>.nii.gz     training cases
    imagesTs/<case>_0000.nii.gz  labelsTs/<case>.nii.gz     held-out test cases
    dataset.json                 nnU-Net's description (CT channel, femur 1, tibia 2)
    splits_final.json            5-fold cross-validation grouped by patient
    cases.json                   case -> patient, split, source files, geometry
    prepare_report.json          what was used and what was rejected, and why

Every image is put in the canonical orientation the app uses before inference
(``LPS``, SimpleITK's DICOMOrient: the manifest's ``input.orientation``), so training
data and the app's input agree. The test set is split off by patient. A case whose
label map does not lie on its image's grid, holds unknown labels or cannot be read is
rejected with the reason; the rest is written into a temporary folder that is renamed
into place only when complete, so a failed run leaves no half dataset behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from kneeseg_app.core.atomic import replace_folder
from kneeseg_app.core.errors import KneeSegError, OutputError
from kneeseg_app.core.imageio import open_volume, read_label_map
from kneeseg_app.core.labels import BACKGROUND, BONE_NAMES, LABEL_NAMES
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress
from kneeseg_app.core.volume import Volume, orientation_code
from trainer.casetable import CaseRow
from trainer.errors import DatasetError
from trainer.split import crossval_folds, split_train_test

ORIENTATION = "LPS"
LABELS = {"background": BACKGROUND, **{name: value for value, name in LABEL_NAMES.items()}}
"""nnU-Net's dataset.json label map (name -> id), from the app's one label table."""
FILE_ENDING = ".nii.gz"
REPORT_NAME = "prepare_report.json"
_NAME = re.compile(r"^[A-Za-z0-9-]+$")


@dataclass(frozen=True)
class PrepareSettings:
    dataset_id: int
    name: str = "KneeCT"
    test_fraction: float = 0.3
    seed: int = 0
    folds: int = 5
    relabel: Mapping[int, int] = field(default_factory=dict)
    """Label values to change before checking (e.g. {3: 0, 4: 0} drops fibula and patella labels)."""
    strict: bool = False
    """Refuse the whole dataset when any case is rejected."""
    overwrite: bool = False

    @property
    def folder_name(self) -> str:
        return f"Dataset{self.dataset_id:03d}_{self.name}"

    def check(self) -> None:
        if not 1 <= self.dataset_id <= 999:
            raise DatasetError(f"The dataset ID must be between 1 and 999, not {self.dataset_id}.")
        if not _NAME.match(self.name):
            raise DatasetError(f"The dataset name '{self.name}' may only hold letters, digits and '-'.")
        if not 0.0 <= self.test_fraction < 1.0:
            raise DatasetError("The test fraction must be at least 0 and below 1.")
        bad = {k: v for k, v in self.relabel.items() if v not in LABELS.values()}
        if bad:
            raise DatasetError(f"Labels can only be mapped to 0, 1 or 2, not {bad}.")


@dataclass
class CaseRecord:
    case: str
    patient: str
    split: str
    image_source: str
    labels_source: str
    shape_zyx: list[int]
    spacing_zyx: list[float]
    source_orientation: str
    bones: list[str]
    pieces: dict[str, int] = field(default_factory=dict)
    """Connected components per bone (26-connectivity): 2 femurs mean both knees are in view."""


@dataclass
class Rejection:
    case: str
    patient: str
    reason: str


@dataclass
class PrepareReport:
    dataset: str
    folder: str
    train: list[str]
    test: list[str]
    rejected: list[Rejection]
    folds: int
    orientation: str = ORIENTATION
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        """The report for a person: counts, then every rejected case with its reason."""
        lines = [
            f"{self.dataset}: {len(self.train)} training and {len(self.test)} test cases "
            f"({self.folds} cross-validation folds by patient), written to {self.folder}."
        ]
        if self.rejected:
            lines.append(f"{len(self.rejected)} case(s) rejected:")
            lines += [f"  {r.case} (patient {r.patient}): {r.reason}" for r in self.rejected]
        lines += [f"Warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"


def prepare_dataset(
    rows: Sequence[CaseRow],
    raw_root: str | os.PathLike[str],
    settings: PrepareSettings,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> PrepareReport:
    """Build ``raw_root/DatasetXXX_Name`` from ``rows``; returns (and writes) the report.

    Raises DatasetError (after writing the report beside the dataset's place) when no
    training case is left, or when ``settings.strict`` and any case was rejected.
    """
    settings.check()
    root = Path(raw_root).resolve()
    target = root / settings.folder_name
    _check_target(root, target, settings)
    sides = split_train_test(rows, settings.test_fraction, settings.seed)
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{settings.folder_name}.", suffix=".part", dir=root))
    try:
        records, rejected = _convert_all(rows, sides, tmp, settings, progress, cancel)
        report = _report(settings, target, records, rejected)
        failure = _failure(report, settings)
        if failure:
            _write_failed_report(root, settings, report)
            raise DatasetError(failure)
        _write_metadata(tmp, records, rows, settings, report)
        replace_folder(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    progress("Dataset written", 1.0)
    return report


def _check_target(root: Path, target: Path, settings: PrepareSettings) -> None:
    prefix = f"Dataset{settings.dataset_id:03d}_"
    clash = [p.name for p in root.glob(prefix + "*") if p.is_dir() and p != target] if root.is_dir() else []
    if clash:
        raise OutputError(
            f"Dataset ID {settings.dataset_id} is already used by {clash[0]} in {root}; choose another ID."
        )
    if target.exists() and not settings.overwrite:
        raise OutputError(f"{target} already exists; choose another dataset ID or allow overwriting.")


def _convert_all(
    rows: Sequence[CaseRow],
    sides: Mapping[str, str],
    out: Path,
    settings: PrepareSettings,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> tuple[list[CaseRecord], list[Rejection]]:
    for sub in ("imagesTr", "labelsTr", "imagesTs", "labelsTs"):
        (out / sub).mkdir()
    records: list[CaseRecord] = []
    rejected: list[Rejection] = []
    for i, row in enumerate(rows):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(f"Case {row.case}", i / max(len(rows), 1))
        try:
            records.append(convert_case(row, sides[row.case], out, settings.relabel))
        except KneeSegError as exc:
            rejected.append(Rejection(row.case, row.patient, str(exc)))
    return records, rejected


def convert_case(row: CaseRow, split: str, out: Path, relabel: Mapping[int, int]) -> CaseRecord:
    """Read, check, reorient and write one case (raises a KneeSegError saying what is wrong)."""
    image = open_volume(row.image)
    if not row.labels.is_file():
        raise DatasetError(f"its label map {row.labels} does not exist")
    labels = read_label_map(row.labels, reference=image)
    array = remap_labels(labels.array, relabel)
    check_label_values(array)
    suffix = "Tr" if split == "train" else "Ts"
    ct_image = sitk.DICOMOrient(_ct_image(image), ORIENTATION)
    label_image = sitk.DICOMOrient(labels.with_array(array).to_sitk(), ORIENTATION)
    sitk.WriteImage(ct_image, str(out / f"images{suffix}" / f"{row.case}_0000{FILE_ENDING}"), useCompression=True)
    sitk.WriteImage(label_image, str(out / f"labels{suffix}" / f"{row.case}{FILE_ENDING}"), useCompression=True)
    size = ct_image.GetSize()
    spacing = ct_image.GetSpacing()
    return CaseRecord(
        case=row.case,
        patient=row.patient,
        split=split,
        image_source=str(row.image),
        labels_source=str(row.labels),
        shape_zyx=[int(size[2]), int(size[1]), int(size[0])],
        spacing_zyx=[float(spacing[2]), float(spacing[1]), float(spacing[0])],
        source_orientation=orientation_code(image.direction),
        bones=[name for name, value in LABELS.items() if value and np.any(array == value)],
        pieces=count_pieces(array),
    )


def remap_labels(array: np.ndarray, relabel: Mapping[int, int]) -> np.ndarray:
    """A copy of ``array`` with label values changed as ``relabel`` says (no copy if empty)."""
    if not relabel:
        return array
    lut = np.arange(256, dtype=np.uint8)
    for old, new in relabel.items():
        if 0 <= old <= 255:
            lut[old] = new
    return lut[array]


def check_label_values(array: np.ndarray) -> None:
    """Raise DatasetError unless the label map holds only 0, 1 and 2."""
    present = np.flatnonzero(np.bincount(array.ravel(), minlength=256))
    unknown = [int(v) for v in present if v not in LABELS.values()]
    if unknown:
        raise DatasetError(
            f"its label map holds unknown label value(s) {', '.join(map(str, unknown))} "
            "(known: 0 background, 1 femur, 2 tibia; map others with --relabel, e.g. 3=0)"
        )


def count_pieces(array: np.ndarray) -> dict[str, int]:
    """Connected pieces of each bone label (within its bounding box, 26-connectivity)."""
    from scipy import ndimage

    boxes = ndimage.find_objects(array, max_label=max(LABELS.values()))
    pieces = {}
    for name, value in LABELS.items():
        box = boxes[value - 1] if value else None
        if box is not None:
            pieces[name] = int(ndimage.label(array[box] == value, structure=np.ones((3, 3, 3)))[1])
    return pieces


def _ct_image(volume: Volume) -> sitk.Image:
    """The CT as int16 when its values are whole HU in range (half the size of float32)."""
    array = volume.array
    if np.issubdtype(array.dtype, np.integer) and array.size and array.min() >= -32768 and array.max() <= 32767:
        return volume.with_array(array.astype(np.int16, copy=False), dicom=volume.dicom).to_sitk()
    return volume.with_array(array.astype(np.float32, copy=False), dicom=volume.dicom).to_sitk()


def _report(
    settings: PrepareSettings, target: Path, records: list[CaseRecord], rejected: list[Rejection]
) -> PrepareReport:
    train = [r.case for r in records if r.split == "train"]
    test = [r.case for r in records if r.split == "test"]
    train_patients = {r.patient for r in records if r.split == "train"}
    folds = min(settings.folds, len(train_patients)) if len(train_patients) >= 2 else 0
    warnings = [
        f"{r.case} has no {' or '.join(b for b in BONE_NAMES if b not in r.bones)} label"
        for r in records
        if len(r.bones) < 2
    ]
    warnings += [
        f"{r.case} has {', '.join(f'{n} {b} pieces' for b, n in r.pieces.items() if n > 1)}: "
        "export with --no-largest-component if scans show both knees"
        for r in records
        if any(n > 1 for n in r.pieces.values())
    ]
    return PrepareReport(settings.folder_name, str(target), train, test, rejected, folds, warnings=warnings)


def _failure(report: PrepareReport, settings: PrepareSettings) -> str | None:
    if settings.strict and report.rejected:
        return (
            f"{len(report.rejected)} case(s) were rejected and --strict is set, so no dataset was written "
            f"(first: {report.rejected[0].case}: {report.rejected[0].reason})."
        )
    if not report.train:
        why = f" (first rejection: {report.rejected[0].case}: {report.rejected[0].reason})" if report.rejected else ""
        return f"No training case is left, so no dataset was written{why}."
    return None


def _write_failed_report(root: Path, settings: PrepareSettings, report: PrepareReport) -> None:
    (root / f"{settings.folder_name}.{REPORT_NAME}").write_text(report.to_json(), encoding="utf-8")


def _write_metadata(
    out: Path, records: list[CaseRecord], rows: Sequence[CaseRow], settings: PrepareSettings, report: PrepareReport
) -> None:
    train = [r for r in records if r.split == "train"]
    dataset_json = {
        "name": settings.name,
        "description": "Knee CT, femur and tibia (prepared by kneeseg-train prepare)",
        "channel_names": {"0": "CT"},
        "labels": dict(LABELS),
        "numTraining": len(train),
        "file_ending": FILE_ENDING,
        # images are read the way the app reads them (SimpleITK, z-y-x arrays)
        "overwrite_image_reader_writer": "SimpleITKIO",
    }
    _json(out / "dataset.json", dataset_json)
    kept = {r.case for r in train}
    train_rows = [row for row in rows if row.case in kept]
    folds = crossval_folds(train_rows, settings.folds, settings.seed)
    if folds:
        _json(out / "splits_final.json", folds)
    _json(
        out / "cases.json",
        {
            "orientation": ORIENTATION,
            "seed": settings.seed,
            "test_fraction": settings.test_fraction,
            "cases": [asdict(r) for r in records],
        },
    )
    (out / REPORT_NAME).write_text(report.to_json(), encoding="utf-8")


def _json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
