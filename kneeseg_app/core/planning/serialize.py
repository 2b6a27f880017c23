"""plan.json: a :class:`Plan` as plain JSON (schema in docs/plan-schema.md; a test keeps them in step).

Points and directions are LPS millimetres (x to the patient's left, y to the back, z up),
rounded to 0.01 mm / 1e-5; missing values are ``null`` with a ``status`` saying why.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kneeseg_app import __version__
from kneeseg_app.core.atomic import ensure_not_inside, write_bytes_atomic
from kneeseg_app.core.planning.model import BonePlan, Finding, KneePlan, Plan

SCHEMA = "kneeseg-plan"
SCHEMA_VERSION = 1


def _vec(v: np.ndarray | None, digits: int) -> list[float] | None:
    return None if v is None else [round(float(c), digits) for c in np.asarray(v).ravel()]


def _common(f: Finding) -> dict[str, Any]:
    return {"status": f.status, "confidence": f.confidence, "method": f.method, "note": f.note}


def finding_dict(f: Finding) -> dict[str, Any]:
    if f.kind == "landmark":
        return {"point_lps_mm": _vec(f.point, 2), **_common(f)}
    if f.kind == "axis":
        return {"point_lps_mm": _vec(f.point, 2), "direction_lps": _vec(f.direction, 5), **_common(f)}
    value = None if f.value is None or not np.isfinite(f.value) else round(float(f.value), 2)
    return {"value": value, "unit": f.unit, **_common(f)}


def bone_dict(bone: BonePlan) -> dict[str, Any]:
    frame = None
    if bone.frame_origin is not None and bone.frame_axes is not None:
        rot = np.asarray(bone.frame_axes)
        matrix = np.eye(4)
        matrix[:3, :3] = rot
        matrix[:3, 3] = -rot @ np.asarray(bone.frame_origin)
        frame = {
            "origin_lps_mm": _vec(bone.frame_origin, 2),
            "lateral_lps": _vec(rot[0], 5),
            "posterior_lps": _vec(rot[1], 5),
            "superior_lps": _vec(rot[2], 5),
            "lps_to_bone": [_vec(row, 5) for row in matrix],
        }
    return {
        "frame": frame,
        "landmarks": {n: finding_dict(f) for n, f in bone.findings.items() if f.kind == "landmark"},
        "axes": {n: finding_dict(f) for n, f in bone.findings.items() if f.kind == "axis"},
    }


def knee_dict(knee: KneePlan) -> dict[str, Any]:
    return {
        "side": knee.side,
        "side_how": knee.side_how,
        "side_confidence": knee.side_confidence,
        "bones": {name: bone_dict(b) for name, b in knee.bones.items()},
        "measurements": {n: finding_dict(f) for n, f in knee.measures.items()},
    }


def user_measurement_dict(
    kind: str, value: float, points_lps: Sequence[Sequence[float]], landmarks: Sequence[str]
) -> dict[str, Any]:
    """One distance or angle a person measured on the bones (3D view), JSON-ready: ``landmarks`` names
    the landmark each point was snapped to ('' for a point on the bone surface)."""
    if kind not in ("distance", "angle") or len(points_lps) != len(landmarks):
        raise ValueError(f"a user measurement is a distance or an angle with one landmark name per point, not {kind!r}")
    return {
        "kind": kind,
        "value": round(float(value), 3),
        "unit": "mm" if kind == "distance" else "deg",
        "points_lps": [[round(float(c), 3) for c in p] for p in points_lps],
        "landmarks": list(landmarks),
    }


def plan_dict(
    plan: Plan, outputs: dict[str, Any] | None = None, user_measurements: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """The JSON-ready plan (key order as documented); ``user_measurements`` from
    :func:`user_measurement_dict`."""
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "kneeseg_version": __version__,
        "coordinates": "LPS mm",
        "input": {
            "labels": plan.labels_source,
            "ct": plan.ct_source,
            "size_xyz": list(plan.shape_zyx[::-1]),
            "spacing_xyz_mm": [round(s, 6) for s in plan.spacing_zyx[::-1]],
        },
        "seconds": round(plan.seconds, 3),
        "warnings": list(plan.warnings),
        "knees": [knee_dict(k) for k in plan.knees],
        "user_measurements": list(user_measurements),
        "outputs": dict(outputs or {}),
    }


def write_plan(
    data: dict[str, Any], path: str | Path, protected: Sequence[str | Path] = (), overwrite: bool = True
) -> Path:
    """Write plan.json atomically (never into a protected input folder)."""
    path = Path(path)
    ensure_not_inside(path, list(protected))
    text = json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)
