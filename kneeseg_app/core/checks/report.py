"""The JSON report of one segmentation (``kneeseg segment --report``): what went in, what came out, can it be trusted.

The schema is documented field by field in docs/segment-report.md; a test keeps the
two in step. Everything is plain JSON (no NaN: missing numbers are ``null``), written
atomically.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kneeseg_app import __version__
from kneeseg_app.core.atomic import ensure_not_inside, write_bytes_atomic
from kneeseg_app.core.checks.outcome import QualityReport
from kneeseg_app.core.volume import Volume, orientation_code

SCHEMA = "kneeseg-segment-report"
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class ModelFacts:
    """Which model made the result."""

    name: str
    version: str
    path: str
    origin: str
    clinical_use: bool
    labels: dict[int, str]

    @classmethod
    def of(cls, package: Any) -> ModelFacts:
        """From a :class:`~kneeseg_app.core.model.package.ModelPackage`."""
        return cls(
            package.name,
            str(package.manifest.version),
            str(package.path),
            str(getattr(package, "origin", "")),
            bool(getattr(package.manifest, "clinical_use", False)),
            dict(package.label_names),
        )


@dataclass
class ReportData:
    """Everything one report says; the CLI fills it as the run goes."""

    input_path: str
    ct: Volume
    model: ModelFacts
    settings: dict[str, Any] = field(default_factory=dict)
    volumes_ml: dict[str, float] = field(default_factory=dict)
    removed_voxels: dict[str, int] = field(default_factory=dict)
    timings_s: dict[str, float] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    quality: QualityReport | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Any] | None = None
    metrics: dict[str, dict[str, float]] | None = None
    sides: dict[str, Any] | None = None
    """Knees and bones per side (:meth:`kneeseg_app.core.sides.SideSplit.as_dict`)."""


def input_dict(path: str, ct: Volume) -> dict[str, Any]:
    """The input's identity and geometry (enough to find the same scan again)."""
    facts = ct.dicom
    dicom = None
    if facts is not None:
        dicom = {
            "modality": facts.modality,
            "body_part": getattr(facts, "body_part", ""),
            "series_description": facts.series_description,
            "series_instance_uid": facts.series_instance_uid,
            "study_instance_uid": facts.study_instance_uid,
            "manufacturer": facts.manufacturer,
            "convolution_kernel": facts.convolution_kernel,
            "slice_thickness_mm": facts.slice_thickness_mm,
            "patient_position": facts.patient_position,
            "files": len(facts.files),
            "filled_gaps": [
                {
                    "axis": g.axis,
                    "start_mm": round(g.start_mm, 3),
                    "end_mm": round(g.end_mm, 3),
                    "width_mm": round(g.width_mm, 3),
                    "nominal_step_mm": round(g.nominal_step_mm, 4),
                    "slices": list(g.planes),
                }
                for g in getattr(facts, "filled_gaps", ())
            ],
        }
    return {
        "path": os.path.abspath(path),
        "format": "dicom" if facts is not None else "file",
        "size_xyz": list(ct.shape[::-1]),
        "spacing_xyz_mm": [round(s, 6) for s in ct.spacing_xyz],
        "origin_lps_mm": [round(o, 4) for o in ct.origin_xyz],
        "orientation": orientation_code(ct.direction),
        "dicom": dicom,
        "interpolated_slices": list(getattr(facts, "interpolated_slices", ())) if facts is not None else [],
        "warnings": list(ct.warnings),
    }


def report_dict(data: ReportData, now: _dt.datetime | None = None) -> dict[str, Any]:
    """The report as a JSON-ready dict (key order as documented)."""
    quality = data.quality
    created = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    report = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "kneeseg_version": __version__,
        "created_utc": created,
        "status": quality.status.value if quality is not None else None,
        "input": input_dict(data.input_path, data.ct),
        "model": {
            "name": data.model.name,
            "version": data.model.version,
            "path": data.model.path,
            "origin": data.model.origin,
            "clinical_use": data.model.clinical_use,
            "labels": {str(k): v for k, v in sorted(data.model.labels.items())},
        },
        "settings": dict(data.settings),
        "volumes_ml": {k: round(v, 3) for k, v in data.volumes_ml.items()},
        "sides": data.sides,
        "removed_voxels": dict(data.removed_voxels),
        "timings_s": {
            **{k: round(v, 3) for k, v in data.timings_s.items()},
            "stages": {k: round(v, 3) for k, v in data.stage_seconds.items()},
        },
        "checks": quality.as_dict() if quality is not None else None,
        "outputs": dict(data.outputs),
        "reference": data.reference,
        "metrics": data.metrics,
    }
    return _plain(report)


def _plain(value: Any) -> Any:
    """JSON-safe copy: tuples to lists, numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_report(
    path: str | os.PathLike[str], report: dict[str, Any], overwrite: bool = False, protected: list[str] | None = None
) -> Path:
    """Write the report atomically as UTF-8 JSON (never into a protected input folder)."""
    ensure_not_inside(Path(path), protected or [])
    text = json.dumps(report, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)
