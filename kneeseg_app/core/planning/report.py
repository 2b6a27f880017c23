"""The one-page planning report (HTML, self-contained: pictures are inline PNG).

Per knee: the three slice views with the landmarks, the measurements and the landmarks
with how they were found and how sure they are; then the model and its quality checks
when the segmentation report (``kneeseg segment --report``) is given. Identifiers (file
paths, series description and UIDs) appear only when asked for.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kneeseg_app import __version__
from kneeseg_app.core.atomic import ensure_not_inside, write_bytes_atomic
from kneeseg_app.core.errors import InputError
from kneeseg_app.core.planning.model import KneePlan, Plan
from kneeseg_app.core.planning.views import canonical, knee_views
from kneeseg_app.core.volume import Volume

STYLE = """
body{font-family:sans-serif;margin:18px;color:#222;max-width:1200px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:18px 0 6px;border-bottom:1px solid #ccc}
h3{font-size:14px;margin:10px 0 4px}table{border-collapse:collapse;font-size:12px;margin:4px 0}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}th{background:#f0f0f0}
.views{display:flex;gap:8px;flex-wrap:wrap}.views figure{margin:0}.views figcaption{font-size:12px;text-align:center}
.warn{color:#a00}.muted{color:#777;font-size:12px}
"""


def load_segment_report(path: str | Path) -> dict[str, Any]:
    """The JSON of ``kneeseg segment --report`` (model and checks), or a clear error."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"The segmentation report {path} cannot be read as JSON ({exc}).") from exc
    if not isinstance(data, dict) or "model" not in data:
        raise InputError(f"{path} is not a KneeSeg segmentation report (it has no 'model').")
    return data


def _e(value: Any) -> str:
    return html.escape(str(value))


def _fmt(v: np.ndarray | None) -> str:
    return "" if v is None else ", ".join(f"{c:.1f}" for c in v)


def _measures_table(knee: KneePlan) -> str:
    rows = ["<tr><th>measurement</th><th>value</th><th>status</th><th>confidence</th><th>note</th></tr>"]
    for f in knee.measures.values():
        value = "" if f.value is None else f"{f.value:.1f} {f.unit}"
        rows.append(
            f"<tr><td>{_e(f.name)}</td><td>{_e(value)}</td><td>{_e(f.status)}</td><td>{_e(f.confidence)}</td><td>{_e(f.note)}</td></tr>"
        )
    return "<table class='measurements'>" + "".join(rows) + "</table>"


def _landmarks_table(knee: KneePlan) -> str:
    rows = [
        "<tr><th>bone</th><th>landmark / axis</th><th>LPS mm (point)</th><th>direction</th><th>status</th><th>confidence</th><th>note</th></tr>"
    ]
    for bone_name, bone in knee.bones.items():
        for f in bone.findings.values():
            direction = "" if f.direction is None else ", ".join(f"{c:.3f}" for c in f.direction)
            rows.append(
                f"<tr><td>{_e(bone_name)}</td><td title='{_e(f.method)}'>{_e(f.name)}</td><td>{_e(_fmt(f.point))}</td>"
                f"<td>{_e(direction)}</td><td>{_e(f.status)}</td><td>{_e(f.confidence)}</td><td>{_e(f.note)}</td></tr>"
            )
    return "<table class='landmarks'>" + "".join(rows) + "</table>"


def _views_html(pictures: dict[str, bytes]) -> str:
    if not pictures:
        return "<p class='muted'>No landmarks, so no views.</p>"
    figures = []
    for view, png in pictures.items():
        data = base64.b64encode(png).decode("ascii")
        figures.append(
            f"<figure><img alt='{view} view' src='data:image/png;base64,{data}'><figcaption>{view}</figcaption></figure>"
        )
    return "<div class='views'>" + "".join(figures) + "</div>"


def _model_html(segment_report: dict[str, Any] | None) -> str:
    if segment_report is None:
        return "<h2>Model and checks</h2><p class='muted'>No segmentation report given (kneeseg segment --report): the model and its checks are not known to this plan.</p>"
    model = segment_report.get("model") or {}
    parts = [
        "<h2>Model and checks</h2>",
        f"<p>Model <b>{_e(model.get('name', '?'))}</b> version {_e(model.get('version', '?'))}"
        f"{' (clinical use: no)' if not model.get('clinical_use') else ''}; overall check status: <b>{_e(segment_report.get('status'))}</b></p>",
    ]
    checks = (segment_report.get("checks") or {}).get("checks") or []
    if checks:
        rows = ["<tr><th>check</th><th>status</th><th>message</th></tr>"]
        for c in checks:
            rows.append(
                f"<tr><td>{_e(c.get('title', c.get('id', '')))}</td><td>{_e(c.get('status'))}</td><td>{_e(c.get('message'))}</td></tr>"
            )
        parts.append("<table class='checks'>" + "".join(rows) + "</table>")
    return "".join(parts)


def report_html(
    plan: Plan,
    labels: Volume,
    ct: Volume | None = None,
    segment_report: dict[str, Any] | None = None,
    identifiers: bool = False,
    now: _dt.datetime | None = None,
) -> str:
    """The report as one HTML string."""
    created = (now or _dt.datetime.now(_dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    image = ct if ct is not None else labels
    canon = canonical(image, labels.array)
    head = [
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>KneeSeg planning report</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>KneeSeg planning report</h1>",
        f"<p class='muted'>KneeSeg {_e(__version__)}, {created}. Research software, not for clinical use. Coordinates: LPS mm.</p>",
    ]
    if identifiers:
        facts = ct.dicom if ct is not None else None
        head.append(f"<p>Labels: {_e(plan.labels_source)}<br>CT: {_e(plan.ct_source or '(none)')}")
        if facts is not None:
            head.append(
                f"<br>Series: {_e(facts.series_description)}<br>Study UID: {_e(facts.study_instance_uid)}<br>Series UID: {_e(facts.series_instance_uid)}"
            )
        head.append("</p>")
    body = []
    for warning in plan.warnings:
        body.append(f"<p class='warn'>{_e(warning)}</p>")
    for knee in plan.knees:
        side = knee.side or "unknown side"
        body.append(
            f"<h2 class='knee'>{_e(side.capitalize())} knee</h2><p class='muted'>Side: {_e(knee.side_how)} (confidence {_e(knee.side_confidence)})</p>"
        )
        body.append(_views_html(knee_views(canon, knee, ct is not None)))
        body.append("<h3>Measurements</h3>" + _measures_table(knee))
        body.append("<h3>Landmarks and axes</h3>" + _landmarks_table(knee))
    body.append(_model_html(segment_report))
    return "".join(head + body) + "</body></html>\n"


def write_report(text: str, path: str | Path, protected: Sequence[str | Path] = (), overwrite: bool = True) -> Path:
    path = Path(path)
    ensure_not_inside(path, list(protected))
    return write_bytes_atomic(path, text.encode("utf-8"), overwrite=overwrite)
