"""Left and right in the real window: a two-knee case shows four bones with their sides, a one-knee case names its knee."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from ui_support import knee_hu, knee_series, wait_idle, wait_loaded

MODEL = "test-threshold-both"
DOE = {"PatientName": "DOE^JOHN", "PatientID": "12345", "PatientBirthDate": "19500102", "AccessionNumber": "ACC9"}


def two_knees_hu(points_lps: np.ndarray) -> np.ndarray:
    """The toy knee twice: the patient's right knee at x = -60 mm, the left at +60 mm (LPS)."""
    shift = np.array([60.0, 0.0, 0.0])
    return np.maximum(knee_hu(points_lps + shift), knee_hu(points_lps - shift))


@pytest.fixture
def both_knees_model(kneeseg_home: Path) -> Path:
    """The threshold network with post-processing that keeps the other knee's bones (min_fraction 0.25)."""
    from onnx_factory import write_model_package

    from kneeseg_app.core import paths

    return write_model_package(
        paths.user_models_dir() / MODEL,
        name=MODEL,
        patch_size=(64, 64),
        postprocessing={"largest_component": [1, 2], "min_fraction": 0.25, "rule": "largest"},
    )


@pytest.fixture
def two_knee_dicom(tmp_path: Path) -> Path:
    folder = tmp_path / "both_knees"
    knee_series(
        columns=192, origin=(-76.8, -25.6, 0.0), intensity=two_knees_hu, description="Both knees 2.0", header=DOE
    ).write(folder)
    return folder


def _segment(qtbot, window, folder: Path) -> None:
    window.open_path(folder)
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: window.models.find(MODEL) is not None, timeout=5000)
    window.models.select(MODEL)
    qtbot.waitUntil(lambda: window.run_panel.segment.isEnabled(), timeout=5000)
    qtbot.mouseClick(window.run_panel.segment, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.result is not None, timeout=30000)
    qtbot.waitUntil(lambda: window.sides.split is not None, timeout=20000)


def test_a_two_knee_case_shows_four_bones_with_their_sides(
    qtbot, window, both_knees_model, two_knee_dicom, dialogs
) -> None:
    _segment(qtbot, window, two_knee_dicom)
    rows = window.sides.table.rows()
    assert [(side, bone) for side, bone, _ in rows] == [
        ("right", "femur"),
        ("right", "tibia"),
        ("left", "femur"),
        ("left", "tibia"),
    ]
    # the toy knees are mirror images: each side holds half of each bone
    femurs = [float(ml) for side, bone, ml in rows if bone == "femur"]
    assert femurs[0] == pytest.approx(femurs[1], rel=0.1) and femurs[0] > 1
    assert window.sides.table.knee.text() == "Knees: right and left"
    assert window.sides.markers["Axial"].text() == "Right and left knees"
    assert window.sides.markers["Axial"].isVisibleTo(window)
    state = window.viewer_state
    state.set_cursor((state.cursor[0], state.cursor[1], 180))  # a sagittal slice through the patient's left knee
    assert window.sides.markers["Sagittal"].text() == "Left knee"
    state.set_cursor((state.cursor[0], state.cursor[1], 10))
    assert window.sides.markers["Sagittal"].text() == "Right knee"
    assert window.sides.table.isVisibleTo(window)
    legend = window.sides.legend.text()
    assert all(name in legend for name in ("right femur", "right tibia", "left femur", "left tibia"))
    assert "Knees: right and left" in window.case_info.text()
    assert dialogs.of_kind("error") == []


def test_the_surfaces_are_written_per_side_named_after_the_patient_or_not(
    qtbot, window, both_knees_model, two_knee_dicom, dialogs, tmp_path: Path
) -> None:
    _segment(qtbot, window, two_knee_dicom)
    wait_idle(qtbot, window)
    window.checks.quality.export_question = lambda what: None  # the toy result's checks are not the point here
    for folder, with_id in ((tmp_path / "named", True), (tmp_path / "anonymous", False)):
        folder.mkdir()
        dialogs.folder = str(folder)
        window.identity.names_action.setChecked(with_id)
        assert window.flows.export_surfaces()
        qtbot.waitUntil(lambda: not window.export_task.running, timeout=30000)
        prefix = "12345_" if with_id else ""
        assert sorted(p.name for p in folder.iterdir()) == [
            f"{prefix}left_femur.stl",
            f"{prefix}left_tibia.stl",
            f"{prefix}right_femur.stl",
            f"{prefix}right_tibia.stl",
        ]
    assert window.settings.anonymous_file_names
    assert dialogs.of_kind("error") == []


def test_a_one_knee_case_names_its_knee(qtbot, window, both_knees_model, tmp_path: Path) -> None:
    folder = tmp_path / "right_knee"
    knee_series(header={"Laterality": "R"}).write(folder)
    _segment(qtbot, window, folder)
    assert window.sides.table.knee.text() == "Knee: right"
    assert [(side, bone) for side, bone, _ in window.sides.table.rows()] == [("right", "femur"), ("right", "tibia")]
    assert all(marker.text() == "Right knee" for marker in window.sides.markers.values())
    assert "Knee: right" in window.case_info.text()
    qtbot.waitUntil(lambda: window.checks.quality.report is not None, timeout=20000)
    legs = window.checks.quality.report.get("components").details["legs"]
    assert [leg["side"] for leg in legs] == ["right"]  # the Checks tab names the knee as the table does


def test_two_knees_against_a_two_knee_reference_are_compared_per_side(
    qtbot, window, both_knees_model, two_knee_dicom, tmp_path: Path
) -> None:
    _segment(qtbot, window, two_knee_dicom)
    result = window.session.result
    window.session.set_reference(result.labels.with_array(result.labels.array.copy()), tmp_path / "ref.nii.gz")
    qtbot.waitUntil(lambda: window.session.metrics is not None, timeout=20000)
    panel = window.metrics_panel
    columns = [panel.table.horizontalHeaderItem(c).text() for c in range(panel.table.columnCount())]
    assert columns == ["right femur", "right tibia", "left femur", "left tibia"]
    assert all(panel.value(bone, "dice") == 1.0 for bone in columns)
