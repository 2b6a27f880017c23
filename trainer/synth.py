"""A synthetic knee CT dataset laid out like a hospital's: images, label maps, a case table.

Each patient is one phantom seed; some patients have two cases (their other knee,
drawn as the mirror image of the first, as left and right knees nearly are), so a
split by case would leak a patient into both training and test data and only a split
by patient is honest. ``prepare`` then treats this folder exactly like real data.

Layout::

    OUT/images/<case>.nii.gz   or   OUT/dicom/<case>/*.dcm
    OUT/labels/<case>.nii.gz        (0 background, 1 femur, 2 tibia)
    OUT/cases.csv                   case,image,labels,patient,seed,osteoarthritis,mirrored
    OUT/synth.json                  the command's settings (to reproduce it)

``variation="wide"`` draws every variation axis of issue 12 (kernels, FOV, positions,
implants, hip-to-ankle coverage, ...); ``synthseg_fraction`` of the cases get a
SynthSeg-style image synthesised from their tissue map (random HU per tissue, bias,
blur, resolution); ``negative_fraction`` of the cases are CT without a knee (thigh,
calf, hip, ankle, torso, arm, empty table, air) with all-zero labels. Both add the
columns ``kind`` and ``synthseg`` to the case table.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from kneeseg_app.core.dicom.write import write_dicom_series
from kneeseg_app.core.errors import OutputError
from kneeseg_app.core.imageio import write_label_map
from kneeseg_app.core.phantom import Phantom, generate_phantom
from kneeseg_app.core.phantom.hard_cases import hard_choices, hard_themes
from kneeseg_app.core.phantom.negatives import generate_negative
from kneeseg_app.core.phantom.synthseg import randomise_contrast
from kneeseg_app.core.phantom.variation import NEGATIVE_KINDS
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress
from kneeseg_app.core.volume import Volume
from trainer.casetable import TABLE_NAME, CaseRow, write_case_table

FORMATS = ("nifti", "dicom")
VARIATIONS = ("classic", "wide")
NEGATIVE_SEED_OFFSET = 500_000
"""Negatives are seeded apart from the knees, so a knee and a negative never share a seed."""


@dataclass(frozen=True)
class SynthSettings:
    """What to draw: ``cases`` in total, patients seeded ``seed``, ``seed + 1``, ..."""

    cases: int
    seed: int = 1000
    shape_zyx: tuple[int, int, int] | None = None
    spacing_zyx: tuple[float, float, float] | None = None
    osteoarthritis_fraction: float = 0.5
    second_knee_fraction: float = 0.25
    both_legs: bool | None = False
    image_format: str = "nifti"
    case_prefix: str = "knee"
    variation: str = "classic"
    synthseg_fraction: float = 0.0
    negative_fraction: float = 0.0
    negative_kinds: tuple[str, ...] = NEGATIVE_KINDS
    """Which kinds of no-knee CT the negatives are drawn from (all by default)."""
    hard_fraction: float = 0.0
    """Share of the knee cases (wide variation only) drawn with :func:`hard_choices` pins: bones cut
    by the field of view, deep flexion on thick slices, hip-to-ankle coverage."""

    def __post_init__(self) -> None:
        if self.cases < 1:
            raise ValueError("at least one case is needed")
        if self.image_format not in FORMATS:
            raise ValueError(f"image format must be one of {FORMATS}")
        if self.variation not in VARIATIONS:
            raise ValueError(f"variation must be one of {VARIATIONS}")
        unknown = sorted(set(self.negative_kinds) - set(NEGATIVE_KINDS))
        if unknown or not self.negative_kinds:
            raise ValueError(f"negative kinds must be some of {NEGATIVE_KINDS}, got {list(self.negative_kinds)}")
        if self.hard_fraction > 0 and self.variation != "wide":
            raise ValueError("hard cases are wide-variation cases: use variation='wide'")
        for name in (
            "osteoarthritis_fraction",
            "second_knee_fraction",
            "synthseg_fraction",
            "negative_fraction",
            "hard_fraction",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")


@dataclass(frozen=True)
class SynthCase:
    case: str
    patient: str
    seed: int
    osteoarthritis: bool
    mirrored: bool
    kind: str = "knee"
    """"knee" or one of NEGATIVE_KINDS."""
    synthseg: bool = False
    hard: bool = False
    """Drawn with :func:`hard_choices` pins (knees only)."""


def plan_cases(settings: SynthSettings) -> list[SynthCase]:
    """Which cases to draw: patients, their seeds, OA status and second knees (deterministic)."""
    rng = np.random.default_rng(settings.seed)
    patients: list[tuple[int, bool]] = []  # (seed, has a second knee)
    total = 0
    negatives = int(round(settings.negative_fraction * settings.cases))
    knees = settings.cases - negatives
    while total < knees:
        pair = total + 2 <= knees and bool(rng.random() < settings.second_knee_fraction)
        patients.append((settings.seed + len(patients), pair))
        total += 2 if pair else 1
    n_oa = int(round(settings.osteoarthritis_fraction * len(patients)))
    oa = set(rng.permutation(len(patients))[:n_oa].tolist())
    cases: list[SynthCase] = []
    for index, (seed, pair) in enumerate(patients):
        patient = f"P{seed:05d}"
        for mirrored in (False, True)[: 1 + pair]:
            case = f"{settings.case_prefix}{len(cases):04d}"
            cases.append(SynthCase(case, patient, seed, index in oa, mirrored))
    kinds = np.random.default_rng([settings.seed, 4]).choice(len(settings.negative_kinds), size=negatives)
    for i, kind in enumerate(kinds):
        seed = settings.seed + NEGATIVE_SEED_OFFSET + i
        cases.append(
            SynthCase(
                f"{settings.case_prefix}{len(cases):04d}",
                f"N{seed:06d}",
                seed,
                False,
                False,
                settings.negative_kinds[int(kind)],
            )
        )
    if settings.synthseg_fraction > 0:
        flags = np.random.default_rng([settings.seed, 3]).random(len(cases)) < settings.synthseg_fraction
        cases = [replace(c, synthseg=bool(f)) for c, f in zip(cases, flags)]
    if settings.hard_fraction > 0:
        flags = np.random.default_rng([settings.seed, 6]).random(len(cases)) < settings.hard_fraction
        cases = [replace(c, hard=bool(f) and c.kind == "knee") for c, f in zip(cases, flags)]
    return cases


def synth_dataset(
    out_dir: str | os.PathLike[str],
    settings: SynthSettings,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    workers: int = 1,
) -> Path:
    """Write the dataset into ``out_dir`` (must not exist yet); returns the case table's path.

    Built in a temporary folder beside ``out_dir`` and renamed at the end, so an
    interrupted run leaves nothing that looks like a dataset. ``workers`` > 1 draws
    phantoms in that many processes (the result is the same).
    """
    target = Path(out_dir).resolve()
    if target.exists() and any(target.iterdir()):
        raise OutputError(f"{target} already exists and is not empty; choose a new folder.")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        cases = plan_cases(settings)
        rows = _write_cases(tmp, cases, settings, workers, progress, cancel)
        write_case_table(rows, tmp / TABLE_NAME, extra={c.case: _extra(c, settings) for c in cases})
        (tmp / "synth.json").write_text(json.dumps(_settings_json(settings), indent=2) + "\n", encoding="utf-8")
        if target.exists():
            target.rmdir()
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    progress("Phantoms written", 1.0)
    return target / TABLE_NAME


def _write_cases(
    root: Path,
    cases: list[SynthCase],
    settings: SynthSettings,
    workers: int,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> list[CaseRow]:
    if workers <= 1:
        rows = []
        for i, case in enumerate(cases):
            if cancel is not None:
                cancel.raise_if_cancelled()
            progress(f"Phantom {case.case}", i / len(cases))
            rows.append(_write_case(root, case, settings))
        return rows
    # 'spawn': the caller may hold torch's thread pools, which a fork would copy half-initialised
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_write_case, root, case, settings) for case in cases]
        for i, future in enumerate(as_completed(futures)):
            if cancel is not None and cancel.cancelled:
                for f in futures:
                    f.cancel()
                cancel.raise_if_cancelled()
            future.result()
            progress("Phantoms", (i + 1) / len(cases))
        return [f.result() for f in futures]


def _draw_case(case: SynthCase, settings: SynthSettings) -> Phantom:
    """The phantom (knee or negative) of one case, its image SynthSeg-randomised when asked."""
    if case.kind == "knee":
        phantom = generate_phantom(
            case.seed,
            shape_zyx=settings.shape_zyx,
            spacing_zyx=settings.spacing_zyx,
            osteoarthritis=case.osteoarthritis,
            both_legs=settings.both_legs,
            variation=settings.variation,
            with_tissues=case.synthseg,
            choices=hard_choices(case.seed) if case.hard else None,
        )
    else:
        phantom = generate_negative(
            case.kind,
            case.seed,
            with_tissues=case.synthseg,
            shape_zyx=settings.shape_zyx,
            spacing_zyx=settings.spacing_zyx,
        )
    if case.synthseg and phantom.tissues is not None:
        rng = np.random.default_rng([case.seed, 5, int(case.mirrored)])
        phantom.ct = phantom.ct.with_array(randomise_contrast(phantom.tissues.array, phantom.ct.spacing_zyx, rng))
        phantom.tissues = None
    return phantom


def _write_case(root: Path, case: SynthCase, settings: SynthSettings) -> CaseRow:
    phantom = _draw_case(case, settings)
    ct, labels = phantom.ct, phantom.labels
    if case.mirrored:
        ct, labels = mirror_left_right(ct), mirror_left_right(labels)
    label_path = root / "labels" / f"{case.case}.nii.gz"
    write_label_map(labels, label_path)
    if settings.image_format == "dicom":
        image_path = root / "dicom" / case.case
        write_dicom_series(
            ct,
            image_path,
            series_description=f"Synthetic knee {case.case}",
            patient_name=f"PHANTOM^{case.patient}",
            patient_id=case.patient,
            seed=case.seed * 2 + case.mirrored,
            kernel=phantom.params.acquisition.kernel,
        )
    else:
        image_path = root / "images" / f"{case.case}.nii.gz"
        image_path.parent.mkdir(parents=True, exist_ok=True)
        sitk.WriteImage(ct.to_sitk(), str(image_path), useCompression=True)
    return CaseRow(case.case, image_path.relative_to(root), label_path.relative_to(root), case.patient)


def mirror_left_right(volume: Volume) -> Volume:
    """The other knee of the same patient: the volume mirrored across the sagittal plane.

    The array is flipped along x and the geometry kept, so patient-left becomes
    patient-right on the same grid.
    """
    return volume.with_array(np.ascontiguousarray(volume.array[:, :, ::-1]), dicom=volume.dicom, source=volume.source)


def _extra(case: SynthCase, settings: SynthSettings) -> dict[str, str]:
    extra = {
        "seed": str(case.seed),
        "osteoarthritis": str(int(case.osteoarthritis)),
        "mirrored": str(int(case.mirrored)),
    }
    if settings.negative_fraction > 0 or settings.synthseg_fraction > 0:
        extra.update(kind=case.kind, synthseg=str(int(case.synthseg)))
    if settings.hard_fraction > 0:
        extra["hard"] = ",".join(hard_themes(case.seed)) if case.hard else ""
    return extra


def _settings_json(settings: SynthSettings) -> dict:
    return {"generator": "kneeseg_app.core.phantom.generate_phantom", **asdict(settings)}
