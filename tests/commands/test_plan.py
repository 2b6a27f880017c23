"""``kneeseg plan``: plan.json as documented, the HTML report read back, bone-frame meshes, refusals."""

from __future__ import annotations

import base64
import io
import json
import re
import struct
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk
from PIL import Image

from kneeseg_app.cli import main
from kneeseg_app.core.imageio import write_label_map
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.planning.methods import MEASURES

SCHEMA_DOC = Path(__file__).resolve().parents[2] / "docs" / "plan-schema.md"


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A single osteoarthritic knee: labels and CT as NIfTI, and a segmentation report."""
    folder = tmp_path_factory.mktemp("plan-input")
    phantom = generate_phantom(
        4,
        shape_zyx=(181, 280, 280),
        spacing_zyx=(1.0, 0.75, 0.75),
        both_legs=False,
        osteoarthritis=True,
        coverage_mm=(90.0, 90.0),
    )
    write_label_map(phantom.labels, folder / "labels.nii.gz")
    sitk.WriteImage(phantom.ct.to_sitk(), str(folder / "ct.nii.gz"))
    report = {
        "schema": "kneeseg-segment-report",
        "status": "warn",
        "model": {"name": "kneeseg-test-model", "version": "3.1", "clinical_use": False},
        "checks": {
            "status": "warn",
            "checks": [
                {
                    "id": "volume",
                    "title": "Bone volumes",
                    "status": "pass",
                    "message": "Both bones have plausible volumes.",
                },
                {"id": "edges", "title": "Scan edges", "status": "warn", "message": "The femur touches the top slice."},
            ],
        },
    }
    (folder / "segment-report.json").write_text(json.dumps(report), encoding="utf-8")
    return {
        "labels": folder / "labels.nii.gz",
        "ct": folder / "ct.nii.gz",
        "segment_report": folder / "segment-report.json",
        "side": Path(phantom.params.legs[0].side),
    }


def _keys(node: object) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in _keys(v)}
    if isinstance(node, list):
        return {k for v in node for k in _keys(v)}
    return set()


class _Report(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.cells: list[str] = []
        self._in_cell = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "img":
            self.images.append(dict(attrs)["src"])
        self._in_cell = tag in ("td", "th")

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells.append(data.strip())


def test_plan_writes_every_documented_field_a_readable_report_and_bone_frame_meshes(case, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [
        "plan",
        str(case["labels"]),
        "--ct",
        str(case["ct"]),
        "--out",
        str(out / "plan.json"),
        "--report",
        str(out / "plan.html"),
        "--segment-report",
        str(case["segment_report"]),
        "--meshes",
        str(out / "meshes"),
        "--bone-frame",
    ]

    assert main(args) == 0

    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    documented = set(re.findall(r"`([a-z_0-9]+)`", SCHEMA_DOC.read_text(encoding="utf-8")))
    assert _keys(plan) - documented == set(), "fields written but not documented in docs/plan-schema.md"
    knee = plan["knees"][0]
    assert knee["side"] == str(case["side"]) and "fibula" in knee["side_how"]
    assert knee["bones"]["femur"]["landmarks"]["epicondyle_lateral"]["status"] == "ok"
    assert knee["measurements"]["hka_deg"] == {
        **knee["measurements"]["hka_deg"],
        "value": None,
        "status": "not_in_scan",
    }

    parser = _Report()
    parser.feed((out / "plan.html").read_text(encoding="utf-8"))
    assert len(parser.images) == 4  # axial, coronal, sagittal and 3D (from the front) of the one knee
    for src in parser.images:
        picture = Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1])))
        assert picture.format == "PNG" and min(picture.size) > 100
    for name in MEASURES:
        assert name in parser.cells
    assert "Bone volumes" in parser.cells and "The femur touches the top slice." in parser.cells
    html_text = (out / "plan.html").read_text(encoding="utf-8")
    assert "kneeseg-test-model" in html_text and str(case["labels"]) not in html_text  # no identifiers unless asked

    side = str(case["side"])
    frame = json.loads((out / "meshes" / f"{side}_femur.frame.json").read_text(encoding="utf-8"))
    assert np.allclose(np.asarray(frame["lps_to_bone"])[3], [0, 0, 0, 1])
    vertices = _stl_vertices(out / "meshes" / f"{side}_femur.stl")
    # origin at the notch apex: the condyles hang 5-25 mm below it, the shaft runs up the +y axis
    assert -25.0 < vertices[:, 1].min() < -3.0 and vertices[:, 1].max() > 40.0
    assert (
        abs(np.median(vertices[vertices[:, 1] > 40, 0])) < 25 and abs(np.median(vertices[vertices[:, 1] > 40, 2])) < 25
    )
    assert plan["outputs"]["mesh_frame"] == "bone" and len(plan["outputs"]["meshes"]) == 4


def _stl_vertices(path: Path) -> np.ndarray:
    data = path.read_bytes()
    assert b"SPACE=ISB" in data[:80]
    (count,) = struct.unpack("<I", data[80:84])
    records = np.frombuffer(
        data[84 : 84 + 50 * count], dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    )
    return records["v"].reshape(-1, 3).astype(np.float64)


def test_identifiers_appear_in_the_report_only_when_asked(case, tmp_path: Path) -> None:
    args = [
        "plan",
        str(case["labels"]),
        "--out",
        str(tmp_path / "p.json"),
        "--report",
        str(tmp_path / "p.html"),
        "--identifiers",
    ]
    assert main(args) == 0
    assert str(case["labels"]) in (tmp_path / "p.html").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--bone-frame"], "--bone-frame needs --meshes"),
        (["--report", "plan.pdf"], "should end in .html"),
    ],
)
def test_bad_options_are_refused_in_one_sentence_before_any_work(case, tmp_path: Path, capsys, extra, message) -> None:
    extra = [str(tmp_path / e) if e.endswith(".pdf") else e for e in extra]
    assert main(["plan", str(case["labels"]), "--out", str(tmp_path / "plan.json"), *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "plan.json").exists()


def test_a_plan_is_never_written_into_the_input_folder(case, capsys) -> None:
    target = case["labels"].parent / "plan.json"
    assert main(["plan", str(case["labels"]), "--out", str(target)]) == 2
    assert "input folder" in capsys.readouterr().err and not target.exists()


def test_a_missing_label_map_is_one_sentence(tmp_path: Path, capsys) -> None:
    assert main(["plan", str(tmp_path / "nope.nii.gz"), "--out", str(tmp_path / "plan.json")]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
