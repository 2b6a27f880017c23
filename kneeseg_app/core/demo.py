"""The demo case: a realistic synthetic knee CT (DICOM) with its reference labels.

Shipping a 130 MB DICOM series would bloat the installer, so the demo is generated on
first use into the per-user cache (deterministic: the same files every time) and reused
afterwards. A marker file written last says the folder is complete; a half-finished
generation (crash, full disk, killed app) is simply redone. Two processes generating at
once each work in their own temporary folder and the first rename wins.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kneeseg_app import __version__
from kneeseg_app.core.atomic import write_atomic, write_bytes_atomic
from kneeseg_app.core.dicom.write import write_dicom_series
from kneeseg_app.core.errors import OutputError
from kneeseg_app.core.paths import resources_dir, user_cache_dir
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress, scaled

DEMO_REVISION = 1
"""Bump when the phantom or the demo spec changes, so caches are regenerated."""
MARKER = "complete.json"
DICOM_DIR = "dicom"
REFERENCE = "reference-labels.nii.gz"


@dataclass(frozen=True)
class DemoSpec:
    """What the demo case is made of (fixed, so it is the same on every machine)."""

    seed: int = 11
    shape_zyx: tuple[int, int, int] = (260, 512, 512)
    spacing_zyx: tuple[float, float, float] = (1.0, 0.7, 0.7)
    osteoarthritis: bool = True
    both_legs: bool = False
    flexion_deg: float = 6.0
    noise_sd: float = 14.0
    kernel: str = "STANDARD"

    @property
    def key(self) -> str:
        return f"{__version__}-r{DEMO_REVISION}"


DEMO_SPEC = DemoSpec()


@dataclass(frozen=True)
class DemoCase:
    """Where the demo CT and its reference segmentation are, and what they show."""

    dicom_dir: Path
    reference_path: Path
    description: str


def demo_case(progress: ProgressCallback = no_progress, cancel: CancelToken | None = None) -> DemoCase:
    """The demo case: bundled if the installer ships one, else generated once into the cache."""
    bundled = read_demo(resources_dir() / "demo", DEMO_SPEC)
    if bundled is not None:
        return bundled
    return ensure_demo(user_cache_dir() / f"demo-{DEMO_SPEC.key}", DEMO_SPEC, progress, cancel)


def read_demo(folder: Path, spec: DemoSpec) -> DemoCase | None:
    """The demo in ``folder`` if it is complete and of this spec, else None."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    dicom_dir, reference = folder / DICOM_DIR, folder / REFERENCE
    if marker.get("key") != spec.key or marker.get("seed") != spec.seed:
        return None
    try:
        complete = reference.is_file() and len(list(dicom_dir.glob("*.dcm"))) == int(marker.get("slices", -1))
    except OSError:
        return None
    return DemoCase(dicom_dir, reference, str(marker.get("description", ""))) if complete else None


def ensure_demo(
    folder: Path,
    spec: DemoSpec = DEMO_SPEC,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> DemoCase:
    """Return the complete demo in ``folder``, generating it (atomically) when missing or partial."""
    existing = read_demo(folder, spec)
    if existing is not None:
        progress("Demo case ready", 1.0)
        return existing
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".part", dir=folder.parent))
    except OSError as exc:
        raise OutputError(f"Cannot create the demo case in {folder.parent}: {exc.strerror or exc}.") from exc
    try:
        _generate_into(work, spec, progress, cancel)
        return _publish(work, folder, spec)
    finally:
        if work.exists():
            shutil.rmtree(work, ignore_errors=True)


def _generate_into(work: Path, spec: DemoSpec, progress: ProgressCallback, cancel: CancelToken | None) -> None:
    import SimpleITK as sitk

    phantom = generate_phantom(
        spec.seed,
        shape_zyx=spec.shape_zyx,
        spacing_zyx=spec.spacing_zyx,
        osteoarthritis=spec.osteoarthritis,
        both_legs=spec.both_legs,
        flexion_deg=spec.flexion_deg,
        noise_sd=spec.noise_sd,
        kernel=spec.kernel,
        progress=scaled(progress, 0.0, 0.5),
        cancel=cancel,
    )
    description = f"Synthetic knee CT (not patient data): {phantom.params.describe()}."
    files = write_dicom_series(
        phantom.ct,
        work / DICOM_DIR,
        series_description="KneeSeg demo knee CT (synthetic)",
        patient_name="DEMO^KNEE",
        patient_id="KNEESEG-DEMO",
        seed=spec.seed,
        kernel=spec.kernel,
        progress=scaled(progress, 0.5, 0.85),
        cancel=cancel,
    )
    progress("Writing the reference segmentation", 0.9)
    labels = phantom.labels.to_sitk()
    write_atomic(work / REFERENCE, lambda path: sitk.WriteImage(labels, str(path), True))
    marker = {"key": spec.key, "seed": spec.seed, "slices": len(files), "description": description}
    write_bytes_atomic(work / MARKER, json.dumps(marker, indent=2).encode("utf-8"))
    progress("Demo case ready", 1.0)


def _publish(work: Path, folder: Path, spec: DemoSpec) -> DemoCase:
    """Rename the finished folder into place; if another process won the race, use theirs."""
    for _ in range(3):
        try:
            os.rename(work, folder)
        except OSError:
            done = read_demo(folder, spec)
            if done is not None:
                return done
            _discard(folder)
            continue
        done = read_demo(folder, spec)
        if done is not None:
            return done
    raise OutputError(f"Cannot put the demo case into {folder}; check that the folder is writable.")


def _discard(folder: Path) -> None:
    """Move an incomplete or outdated folder out of the way, then delete it."""
    if not folder.exists():
        return
    try:
        trash = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".old", dir=folder.parent))
        os.replace(folder, trash / folder.name)
    except OSError:
        return
    shutil.rmtree(trash, ignore_errors=True)
