"""The demo case: generated once into the user's cache, complete or redone, race-safe."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from kneeseg_app.core import demo
from kneeseg_app.core.demo import DEMO_SPEC, MARKER, DemoSpec, demo_case, ensure_demo

SMALL = DemoSpec(seed=3, shape_zyx=(16, 48, 48), spacing_zyx=(5.0, 3.0, 3.0))


def read_series(folder: Path) -> sitk.Image:
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return reader.Execute()


def test_demo_case_is_a_realistic_knee_ct_generated_once_into_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNEESEG_HOME", str(tmp_path))
    stages: list[str] = []
    case = demo_case(progress=lambda stage, fraction: stages.append(stage))
    assert case.dicom_dir.is_relative_to(tmp_path / "cache")
    assert "Synthetic" in case.description and "osteoarthritis" in case.description
    ct = read_series(case.dicom_dir)
    z, y, x = DEMO_SPEC.shape_zyx
    assert ct.GetSize() == (x, y, z) and 200 <= z <= 300 and x == y == 512
    assert 0.7 <= ct.GetSpacing()[0] <= 0.8
    reference = sitk.ReadImage(str(case.reference_path))
    assert case.reference_path.name.endswith(".nii.gz")
    assert reference.GetSize() == ct.GetSize()
    assert np.allclose(reference.GetOrigin(), ct.GetOrigin(), atol=1e-3) and np.allclose(
        reference.GetSpacing(), ct.GetSpacing(), atol=1e-5
    )
    labels = sitk.GetArrayFromImage(reference)
    assert set(np.unique(labels)) == {0, 1, 2}
    hu = sitk.GetArrayFromImage(ct)
    assert np.median(hu[labels == 1]) > 150, "the reference femur lies on bone in the CT"
    assert stages, "progress was reported"

    marker_time = (case.dicom_dir.parent / MARKER).stat().st_mtime_ns
    again = demo_case()  # not regenerated: the marker (and the files) keep their times
    assert again == case and (case.dicom_dir.parent / MARKER).stat().st_mtime_ns == marker_time
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [case.dicom_dir.parent.name], "no temporary folders left"


def test_a_half_written_demo_without_its_marker_is_generated_again(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    (folder / "dicom").mkdir(parents=True)
    (folder / "dicom" / "IM0001.dcm").write_bytes(b"truncated")
    case = ensure_demo(folder, SMALL)
    assert (folder / MARKER).is_file()
    assert len(list(case.dicom_dir.glob("*.dcm"))) == SMALL.shape_zyx[0]
    assert read_series(case.dicom_dir).GetSize() == SMALL.shape_zyx[::-1]


def test_deleting_the_marker_makes_the_demo_regenerate(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    first = ensure_demo(folder, SMALL)
    (folder / MARKER).unlink()
    second = ensure_demo(folder, SMALL)
    assert second == first and (folder / MARKER).is_file()


def test_a_demo_of_an_older_version_is_replaced(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    ensure_demo(folder, SMALL)
    marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    (folder / MARKER).write_text(json.dumps({**marker, "key": "0.0.0-r0"}))
    assert demo.read_demo(folder, SMALL) is None
    ensure_demo(folder, SMALL)
    assert json.loads((folder / MARKER).read_text(encoding="utf-8"))["key"] == SMALL.key


def test_the_demo_is_deterministic(tmp_path: Path) -> None:
    a = ensure_demo(tmp_path / "a", SMALL)
    b = ensure_demo(tmp_path / "b", SMALL)
    files_a = sorted(a.dicom_dir.iterdir())
    files_b = sorted(b.dicom_dir.iterdir())
    assert [f.read_bytes() for f in files_a] == [f.read_bytes() for f in files_b]
    assert np.array_equal(
        sitk.GetArrayFromImage(sitk.ReadImage(str(a.reference_path))),
        sitk.GetArrayFromImage(sitk.ReadImage(str(b.reference_path))),
    )


def test_two_processes_generating_at_once_both_get_a_complete_demo(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    results: list = []
    errors: list = []

    def generate() -> None:
        try:
            results.append(ensure_demo(folder, SMALL))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=generate) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 3
    assert all(r == results[0] for r in results)
    assert demo.read_demo(folder, SMALL) is not None
    assert [p.name for p in tmp_path.iterdir()] == ["demo"], "temporary folders are cleaned up"
