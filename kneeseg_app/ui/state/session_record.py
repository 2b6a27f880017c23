"""Between the window's case and a ``.kneeseg`` session file: what is saved, and what is restored.

Qt-free: :func:`record_of` gathers the session file's content from the open case (the
model's result exactly as it came, the edited labels, the checks), and
:func:`result_of` rebuilds the model's SegmentationResult from a session file on the
reopened CT. The window's ``SessionFlows`` only asks, reads and writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kneeseg_app.core.session_file import CTIdentity, SessionFile
from kneeseg_app.core.volume import Volume

RESULT_FACTS = ("seconds", "volumes_ml", "stage_seconds", "removed_voxels")


def checks_dict(report: Any) -> dict[str, Any]:
    """A QualityReport as saved: without its run time, so the same checks give the same file."""
    if report is None:
        return {}
    data = dict(report.as_dict())
    data.pop("seconds", None)
    return data


def record_of(
    ct: Volume, location: str | Path, model_result: Any, edited_labels: np.ndarray | None, checks: dict[str, Any]
) -> SessionFile:
    """The session file's content for ``model_result`` on ``ct`` (``edited_labels`` None: unedited)."""
    return SessionFile(
        ct=CTIdentity.of(ct, Path(location).resolve()),
        model_name=str(getattr(model_result, "model_name", "")),
        model_labels=np.asarray(model_result.labels.array),
        edited_labels=None if edited_labels is None else np.asarray(edited_labels),
        model_settings=dict(getattr(model_result, "settings", {}) or {}),
        label_names={int(k): str(v) for k, v in (getattr(model_result, "label_names", {}) or {}).items()},
        result_facts={key: getattr(model_result, key) for key in RESULT_FACTS if hasattr(model_result, key)},
        checks=dict(checks),
        top_probability=getattr(model_result, "top_probability", None),
    )


def result_of(record: SessionFile, ct: Volume) -> Any:
    """The model's SegmentationResult of ``record`` on ``ct`` (which must fit: see ``CTIdentity.mismatch``)."""
    from kneeseg_app.core.inference.engine import SegmentationResult

    facts = record.result_facts
    labels = ct.with_array(np.array(record.model_labels), source=f"session: {record.model_name}")
    return SegmentationResult(
        labels=labels,
        seconds=float(facts.get("seconds", 0.0)),
        volumes_ml={str(k): float(v) for k, v in dict(facts.get("volumes_ml", {})).items()},
        stage_seconds={str(k): float(v) for k, v in dict(facts.get("stage_seconds", {})).items()},
        model_name=record.model_name,
        settings=dict(record.model_settings),
        removed_voxels={str(k): int(v) for k, v in dict(facts.get("removed_voxels", {})).items()},
        top_probability=None if record.top_probability is None else np.array(record.top_probability),
        label_names=dict(record.label_names),
    )
