"""The surgeon's path through the real window: open, look, segment, check, compare, save."""

from __future__ import annotations

import time

import numpy as np
import pytest
import SimpleITK as sitk
from dicom_factory import CTSeries
from PySide6.QtCore import QPointF, Qt
from ui_support import knee_hu, wait_idle, wait_loaded

from kneeseg_app.core.metrics import compute_metrics
from kneeseg_app.ui.state.display_geometry import AXIAL
from kneeseg_app.ui.state.overlay import RESULT_COLORS


def open_and_segment(qtbot, window, folder, model: str = "test-threshold-2d") -> None:
    window.open_path(folder)
    wait_loaded(qtbot, window)
    qtbot.waitUntil(lambda: window.models.find(model) is not None, timeout=5000)
    window.models.select(model)
    qtbot.waitUntil(lambda: window.run_panel.segment.isEnabled(), timeout=5000)
    qtbot.mouseClick(window.run_panel.segment, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.session.result is not None, timeout=30000)


def test_a_folder_with_two_series_offers_them_and_opens_the_one_chosen(qtbot, window, dialogs, knee_dicom) -> None:
    CTSeries(
        n_slices=10, rows=32, columns=32, description="Knee soft tissue", kernel="STANDARD", intensity=knee_hu
    ).write(knee_dicom / "soft")
    dialogs.series_choice = lambda series: next(s for s in series if s.description == "Knee soft tissue")
    window.open_path(knee_dicom)
    wait_loaded(qtbot, window)
    offered = dialogs.series_offered[0]
    assert {s.description for s in offered} == {"Knee 2.0 Bone", "Knee soft tissue"}
    assert offered[0].description == "Knee 2.0 Bone"  # the better series is ranked (preselected) first
    volume = window.session.volume
    assert volume.dicom.series_description == "Knee soft tissue" and volume.shape == (10, 32, 32)
    assert "Knee soft tissue" in window.windowTitle()
    assert window.viewer.views["Axial"].ct_item.image.shape == (32, 32)
    assert window.viewer.views["Coronal"].slider.maximum() == 31
    assert dialogs.of_kind("error") == []


def test_the_views_keep_the_physical_aspect_and_move_together(qtbot, window, knee_dicom) -> None:
    window.open_path(knee_dicom)
    wait_loaded(qtbot, window)
    coronal = window.viewer.views["Coronal"]
    rect = coronal.ct_item.mapRectToParent(coronal.ct_item.boundingRect())
    assert (rect.width(), rect.height()) == pytest.approx((64 * 0.8, 36 * 2.0))  # mm, not voxels
    axial = window.viewer.views["Axial"]
    # the centre of voxel column 12, row 50 (0.8 mm pixels)
    qtbot.mouseClick(axial.canvas.viewport(), Qt.MouseButton.LeftButton, pos=_view_point(axial, 12.5 * 0.8, 50.5 * 0.8))
    state = window.viewer_state
    assert state.cursor[1:] == (50, 12)  # row (P), column (L) under the click
    assert window.viewer.views["Sagittal"].slider.value() == 12
    assert window.viewer.views["Coronal"].slider.value() == 50
    before = state.cursor[0]
    qtbot.keyClick(axial.canvas, Qt.Key.Key_PageUp)
    assert state.cursor[0] == min(before + 10, 35)
    qtbot.keyClick(axial.canvas, Qt.Key.Key_Down)
    assert state.cursor[0] == min(before + 10, 35) - 1
    assert axial.canvas.letters["left"].text() == "R" and axial.canvas.letters["top"].text() == "A"


def _view_point(view, x_mm: float, y_mm: float):
    scene = view.viewbox.mapViewToScene(QPointF(x_mm, y_mm))
    return view.canvas.mapFromScene(scene)


def test_segmenting_shows_femur_and_tibia_overlay_and_volumes(qtbot, window, threshold_model, knee_dicom) -> None:
    open_and_segment(qtbot, window, knee_dicom)
    result = window.session.result
    values = np.bincount(result.labels.array.ravel(), minlength=3)
    assert values[1] > 500 and values[2] > 500
    assert result.labels.same_grid(window.session.volume)
    outcome = window.run_panel.outcome.text()
    assert "femur" in outcome and "tibia" in outcome and "mL" in outcome
    state = window.viewer_state
    femur_voxel = tuple(np.argwhere(result.labels.array == 1)[len(np.argwhere(result.labels.array == 1)) // 2])
    state.set_cursor(state.geometry.to_display_index(femur_voxel))
    image = window.viewer.views["Axial"].result_item.image
    assert image.shape[-1] == 4
    assert (image[..., :3] == RESULT_COLORS[1]).all(axis=-1).any()  # femur painted in its colour
    tibia_voxel = tuple(np.argwhere(result.labels.array == 2)[0])
    state.set_cursor(state.geometry.to_display_index(tibia_voxel))
    image = window.viewer.views["Axial"].result_item.image
    assert (image[..., :3] == RESULT_COLORS[2]).all(axis=-1).any()
    window.display_panel.outlined.setChecked(True)
    outlined = window.viewer.views["Axial"].result_item.image
    assert 0 < np.count_nonzero(outlined[..., 3]) < np.count_nonzero(image[..., 3])


def test_a_reference_gives_the_metrics_table_and_exports(
    qtbot, window, dialogs, threshold_model, knee_dicom, tmp_path
) -> None:
    open_and_segment(qtbot, window, knee_dicom)
    prediction = window.session.result.labels
    reference = prediction.array.copy()
    reference[:, :, :3] = 0
    reference[10, 20:30, 20:30] = 2  # a deliberate difference
    reference_path = tmp_path / "refs" / "reference.nii.gz"
    reference_path.parent.mkdir()
    sitk.WriteImage(prediction.with_array(reference).to_sitk(), str(reference_path))
    dialogs.open_file = str(reference_path)
    window.flows.load_reference()
    qtbot.waitUntil(lambda: window.session.metrics is not None, timeout=20000)
    expected = compute_metrics(prediction.array, reference, prediction.spacing_zyx)
    panel = window.metrics_panel
    for bone in ("femur", "tibia"):
        for key in ("dice", "jaccard", "precision", "recall", "hd95_mm", "assd_mm", "volume_ref_ml"):
            assert panel.value(bone, key) == pytest.approx(getattr(expected[bone], key))
    assert panel.value("tibia", "dice") < 1.0
    assert "Hausdorff" in panel.footnote.toolTip() and panel.conventions_text.isHidden()
    panel.footnote.click()
    assert not panel.conventions_text.isHidden() and "HD95" in panel.conventions_text.text()
    assert window.viewer_state.reference is not None  # drawn outlined over the result

    dialogs.save_file = str(tmp_path / "out" / "metrics")
    exported = window.flows.export_metrics()
    assert exported.name == "metrics.csv" and "tibia" in exported.read_text(encoding="utf-8")

    dialogs.save_file = str(tmp_path / "out" / "labels.nrrd")
    saved = window.flows.save_labels()
    back = sitk.ReadImage(str(saved))
    assert np.array_equal(sitk.GetArrayFromImage(back), prediction.array)
    assert back.GetSpacing() == pytest.approx(prediction.spacing_xyz) and back.GetOrigin() == pytest.approx(
        prediction.origin_xyz
    )

    dialogs.confirm_answer = False  # an existing file is replaced only after a yes
    saved.write_bytes(b"keep me")
    assert window.flows.save_labels() is None and saved.read_bytes() == b"keep me"
    assert "already exists" in dialogs.questions[-1]

    dialogs.save_file = str(knee_dicom / "labels.nii.gz")  # never into the input folder
    assert window.flows.save_labels() is None
    assert "input folder" in dialogs.of_kind("error")[-1][2]
    assert not (knee_dicom / "labels.nii.gz").exists()


def test_cancel_stops_a_running_segmentation_within_a_second(qtbot, window, knee_dicom, kneeseg_home) -> None:
    from onnx_factory import slow_network, write_model_package

    from kneeseg_app.core import paths

    # about 4.5 s for this CT on one thread: a cancel that works stops it long before
    write_model_package(
        paths.user_models_dir() / "slow", name="slow-model", networks=[slow_network(2, channels=96, layers=16)]
    )
    window.refresh_models()
    window.models.select("slow-model")
    window.open_path(knee_dicom)
    wait_loaded(qtbot, window)
    window.run_panel.threads.setValue(1)
    qtbot.mouseClick(window.run_panel.segment, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.run_panel.bar.value() > 0, timeout=20000)
    qtbot.wait(300)  # well into the network stage
    assert window.segmenter.running and window.run_panel.cancel.isEnabled()
    assert not window.run_panel.segment.isEnabled()  # one run at a time
    window.viewer_state.move_slice(AXIAL, 3)  # the viewer stays usable meanwhile
    start = time.monotonic()
    qtbot.mouseClick(window.run_panel.cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.segmenter.running, timeout=3000)
    assert time.monotonic() - start < 1.0
    assert window.session.result is None
    assert window.run_panel.outcome.text() == "Cancelled."
    assert window.run_panel.segment.isEnabled()


def test_settings_are_remembered_for_the_next_start(
    qtbot, window, app_settings, dialogs, threshold_model, knee_dicom
) -> None:
    from kneeseg_app.ui.windows.main_window import MainWindow

    window.open_path(knee_dicom)
    wait_idle(qtbot, window)
    window.run_panel.tta.setChecked(True)
    window.run_panel.threads.setValue(1)
    window.display_panel.preset.setCurrentText("Soft tissue")
    window.display_panel.preset.activated.emit(window.display_panel.preset.currentIndex())
    window.models.select("test-threshold-2d")
    again = MainWindow(settings=app_settings, dialogs=dialogs)
    qtbot.addWidget(again)
    qtbot.waitUntil(lambda: again.models.selected is not None, timeout=5000)
    assert again.models.selected.name == "test-threshold-2d"
    assert again.run_panel.options().threads == 1
    # TTA is not carried over: it follows the selected model's default_tta (False here), as in the CLI
    assert again.run_panel.options().tta is None and not again.run_panel.tta.isChecked()
    assert again.viewer_state.preset == "Soft tissue"
    assert app_settings.recent[0] == str(knee_dicom)
    assert app_settings.last_folder == str(knee_dicom.parent)
