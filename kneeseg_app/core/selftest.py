"""Headless self-test of an installed (usually frozen) KneeSeg: can it really segment here?

An installation that starts but has lost its model, its DICOM decoders or its demo data
is worse than one that does not start, because it fails in front of a surgeon. The
self-test runs what a user's first case would run, end to end, and says which part is
broken:

1. ``decoders``: reads the shipped compressed DICOM series (JPEG 2000 lossless and JPEG
   lossless, ``resources/selftest``) through the app's own DICOM path and compares every
   pixel with the pattern they were written from (:func:`decoder_pattern`);
2. ``model``: finds the default model, verifies its checksums and opens its networks;
3. ``demo``: segments the bundled demo CT (a DICOM folder) and compares the result with
   its reference; each bone's Dice must reach :func:`dice_thresholds`.

Nothing is written outside the per-user cache (the demo case may be generated there).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kneeseg_app.core import paths
from kneeseg_app.core.errors import KneeSegError
from kneeseg_app.core.progress import ProgressCallback, no_progress, scaled

if TYPE_CHECKING:
    from kneeseg_app.core.inference.engine import SegmentationResult
    from kneeseg_app.core.model.package import ModelPackage
    from kneeseg_app.core.volume import Volume

SELFTEST_DIR_NAME = "selftest"
DEFAULT_MIN_DICE = 0.9
VALIDATION_MARGIN = 0.05
"""How far below its manifest's validation Dice a model may score on the demo case."""

DECODER_SAMPLES: Mapping[str, str] = {
    "jpeg2000-lossless": "1.2.840.10008.1.2.4.90",
    "jpeg-lossless": "1.2.840.10008.1.2.4.70",
}
"""Shipped sample series (folder name -> the transfer syntax its files must use)."""

SAMPLE_SHAPE_ZYX = (3, 64, 64)


def selftest_dir() -> Path:
    """Where the compressed DICOM samples are shipped (read-only)."""
    return paths.resources_dir() / SELFTEST_DIR_NAME


def decoder_pattern(shape_zyx: tuple[int, int, int] = SAMPLE_SHAPE_ZYX) -> np.ndarray:
    """The HU values the sample series hold: CT-like range, no smooth areas.

    Pure integer arithmetic, so it is the same on every platform and numpy version; the
    pseudo-random term keeps the codecs from compressing it to nothing (a decoder that
    returns a blank or shifted image cannot match it by chance).
    """
    z, y, x = np.indices(shape_zyx, dtype=np.int64)
    ramp = (x * 23 + y * 11 + z * 301) % 2600
    speckle = (x * 7919 + y * 104729 + z * 1299709 + (x * y) % 97) % 397
    return (ramp + speckle - 1000).astype(np.int16)


@dataclass
class CheckResult:
    """One part of the self-test: did it pass, what was seen, how long it took."""

    name: str
    ok: bool
    detail: str
    seconds: float
    lines: list[str] = field(default_factory=list)
    """Extra lines for a person (metrics table, per-sample results)."""


@dataclass
class SelftestReport:
    checks: list[CheckResult]
    seconds: float

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.ok]


class SelftestError(KneeSegError):
    """A self-test step found the installation unusable (the message says which part)."""


# ----------------------------------------------------------------------------
# check 1: DICOM decoders
# ----------------------------------------------------------------------------
def _transfer_syntax(path: Path) -> str:
    import pydicom

    return str(pydicom.dcmread(path, stop_before_pixels=True).file_meta.TransferSyntaxUID)


def check_decoder_sample(folder: Path, transfer_syntax: str) -> str:
    """Read one compressed sample series through the app's loader; raise SelftestError unless exact."""
    from kneeseg_app.core.imageio import open_volume

    files = sorted(folder.glob("*.dcm"))
    if not files:
        raise SelftestError(f"The compressed DICOM sample {folder.name} is missing from {folder.parent}.")
    found = _transfer_syntax(files[0])
    if found != transfer_syntax:
        raise SelftestError(f"The sample {folder.name} uses transfer syntax {found}, not {transfer_syntax}.")
    try:
        volume = open_volume(folder)
    except KneeSegError as exc:
        raise SelftestError(f"The {folder.name} DICOM sample cannot be decoded: {exc}") from exc
    expected = decoder_pattern(SAMPLE_SHAPE_ZYX)
    if volume.array.shape != expected.shape:
        raise SelftestError(f"The {folder.name} sample decodes to shape {volume.array.shape}, not {expected.shape}.")
    wrong = int(np.count_nonzero(volume.array.astype(np.int32) != expected))
    if wrong:
        raise SelftestError(f"The {folder.name} sample decodes with {wrong} wrong pixels (broken decoder).")
    return f"{folder.name}: {len(files)} slices decoded exactly ({transfer_syntax})"


def check_decoders(samples_dir: Path | None = None) -> CheckResult:
    """Both compressed samples decode exactly (fails when GDCM lost its codecs)."""
    root = samples_dir or selftest_dir()
    return _timed("decoders", lambda: _decode_all(root))


def _decode_all(root: Path) -> tuple[str, list[str]]:
    lines = [check_decoder_sample(root / name, syntax) for name, syntax in DECODER_SAMPLES.items()]
    return f"{len(lines)} compressed DICOM samples decoded exactly", lines


# ----------------------------------------------------------------------------
# check 2 and 3: model and demo segmentation
# ----------------------------------------------------------------------------
REPRODUCTION_MARGIN = 0.02
"""How far below the Dice recorded for the demo case at packaging time an installed copy may score."""


def reproduction_thresholds(
    demo_case_dice: Mapping[str, float], bones: list[str], min_dice: float | None = None
) -> dict[str, float]:
    """The Dice each bone must reach when the manifest records the model's own demo-case Dice.

    The same model on the same demo CT must give the same labels up to threads and float
    rounding, so a copy that falls short is broken (wrong decoder, resampling, model file).
    """
    if min_dice is not None:
        return {bone: float(min_dice) for bone in bones}
    return {
        bone: float(demo_case_dice.get(bone, DEFAULT_MIN_DICE + REPRODUCTION_MARGIN)) - REPRODUCTION_MARGIN
        for bone in bones
    }


def dice_thresholds(
    validation_dice: Mapping[str, float], bones: list[str], min_dice: float | None = None
) -> dict[str, float]:
    """The Dice each bone must reach on the demo case.

    ``min_dice`` (the user's choice) wins; otherwise the model's own validation Dice less
    :data:`VALIDATION_MARGIN`, or :data:`DEFAULT_MIN_DICE` where the manifest has none.
    """
    if min_dice is not None:
        return {bone: float(min_dice) for bone in bones}
    return {
        bone: float(validation_dice[bone]) - VALIDATION_MARGIN if bone in validation_dice else DEFAULT_MIN_DICE
        for bone in bones
    }


def check_model(model: str | None = None) -> tuple[CheckResult, ModelPackage | None]:
    """The default (or named) model is installed, intact and opens in onnxruntime."""
    holder: dict[str, ModelPackage] = {}

    def body() -> tuple[str, list[str]]:
        from kneeseg_app.core.model.discovery import find_model

        package = find_model(model)
        package.open_networks(threads=1)
        holder["package"] = package
        return f"{package.name} {package.manifest.version} ({package.origin}): checksums match, networks open", []

    return _timed("model", body), holder.get("package")


def check_demo(
    package: ModelPackage,
    min_dice: float | None = None,
    threads: int | None = None,
    progress: ProgressCallback = no_progress,
) -> CheckResult:
    """Segment the bundled demo CT (read as DICOM) and compare with its reference."""
    return _timed("demo", lambda: _segment_demo(package, min_dice, threads, progress))


def demo_case_metrics(
    package: ModelPackage, threads: int | None = None, progress: ProgressCallback = no_progress
) -> tuple[dict, SegmentationResult, Volume]:
    """Segment the demo case as the app does (DICOM read, default options) and score it.

    Shared by the self-test and by the trainer, which records the result in the manifest
    (``validation.demo_case_dice``) so that an installed copy must reproduce it.
    """
    from kneeseg_app.core.demo import demo_case
    from kneeseg_app.core.evaluation import EvalCase, engine_predictor, load_case, score_case
    from kneeseg_app.core.inference.engine import SegmentOptions

    case = demo_case(progress=scaled(progress, 0.0, 0.1))
    loaded = load_case(EvalCase("demo", case.dicom_dir, case.reference_path), scaled(progress, 0.1, 0.2))
    predictor = engine_predictor(package, SegmentOptions(threads=threads))
    score, result = score_case(loaded, predictor, scaled(progress, 0.2, 0.95))
    return score.metrics, result, loaded.ct


def _segment_demo(
    package: ModelPackage, min_dice: float | None, threads: int | None, progress: ProgressCallback
) -> tuple[str, list[str]]:
    metrics, result, ct = demo_case_metrics(package, threads, progress)
    validation = package.manifest.validation
    needed = (
        reproduction_thresholds(dict(validation.demo_case_dice), list(metrics), min_dice)
        if validation.demo_case_dice
        else dice_thresholds(dict(validation.dice), list(metrics), min_dice)
    )
    lines = [f"demo CT {'x'.join(str(s) for s in ct.array.shape)} voxels; segmented in {result.seconds:.1f} s"]
    low = []
    for bone, m in metrics.items():
        lines.append(
            f"{bone:>6}: Dice {m.dice:.4f} (needs >= {needed[bone]:.3f})  HD95 {m.hd95_mm:.2f} mm  "
            f"ASSD {m.assd_mm:.2f} mm  volume {m.volume_pred_ml:.1f} / {m.volume_ref_ml:.1f} mL"
        )
        if not m.dice >= needed[bone]:  # also catches NaN
            low.append(f"{bone} {m.dice:.3f} < {needed[bone]:.3f}")
    if low:
        raise _FailedWithLines(f"Dice below the threshold on the demo case ({'; '.join(low)})", lines)
    return "demo case segmented; every bone's Dice reaches its threshold", lines


# ----------------------------------------------------------------------------
# running it all
# ----------------------------------------------------------------------------
class _FailedWithLines(Exception):
    def __init__(self, message: str, lines: list[str]) -> None:
        super().__init__(message)
        self.lines = lines


def _timed(name: str, body: Callable[[], tuple[str, list[str]]]) -> CheckResult:
    """Run one check; any error (typed or not) becomes a failed result, never a traceback."""
    start = time.perf_counter()
    try:
        detail, lines = body()
        ok = True
    except _FailedWithLines as exc:
        ok, detail, lines = False, str(exc), exc.lines
    except KneeSegError as exc:
        ok, detail, lines = False, str(exc), []
    except Exception as exc:  # noqa: BLE001 - a frozen app missing a module raises ImportError etc.
        ok, detail, lines = False, f"{type(exc).__name__}: {exc}", []
    return CheckResult(name, ok, detail, time.perf_counter() - start, lines)


def run_check(name: str, body: Callable[[], tuple[str, list[str]]]) -> CheckResult:
    """Run a caller's own check (``body`` returns detail and lines, raises on failure) like the built-in ones."""
    return _timed(name, body)


def run_selftest(
    model: str | None = None,
    min_dice: float | None = None,
    threads: int | None = None,
    samples_dir: Path | None = None,
    progress: ProgressCallback = no_progress,
    extra_checks: Sequence[Callable[[], CheckResult]] = (),
) -> SelftestReport:
    """All checks in order, then ``extra_checks`` (e.g. the frozen app's window check).

    The demo is skipped (and counted as failed) when no model opens.
    """
    start = time.perf_counter()
    checks = [check_decoders(samples_dir)]
    progress("Self-test: decoders", 0.05)
    model_check, package = check_model(model)
    checks.append(model_check)
    progress("Self-test: model", 0.1)
    if package is None:
        checks.append(CheckResult("demo", False, "not run: no usable model", 0.0))
    else:
        checks.append(check_demo(package, min_dice, threads, scaled(progress, 0.1, 0.95)))
    checks += [extra() for extra in extra_checks]
    progress("Self-test", 1.0)
    return SelftestReport(checks, time.perf_counter() - start)
