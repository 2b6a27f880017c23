"""Batch evaluation logic (Qt-free): case layouts, runs with a real model, summaries, exports."""

from __future__ import annotations

import csv
import math

import pytest
import SimpleITK as sitk
from ui_support import write_case

from kneeseg_app.core.errors import InputError
from kneeseg_app.core.progress import CancelToken
from kneeseg_app.ui.controllers import batch_logic
from kneeseg_app.ui.controllers.batch_logic import BatchCase, box_stats, engine_segment, find_cases, run_batch


def test_a_folder_of_case_folders_is_found_with_images_and_labels(tmp_path) -> None:
    write_case(tmp_path / "case01")
    write_case(tmp_path / "case02", image_name="ct.nrrd", labels_name="reference.nrrd")
    dicom_case = tmp_path / "case03"
    (dicom_case / "dicom").mkdir(parents=True)
    (dicom_case / "seg.nii.gz").write_bytes(b"")
    (tmp_path / "notes").mkdir()
    cases, skipped = find_cases(tmp_path)
    assert [(c.case_id, c.image.name, c.labels.name) for c in cases] == [
        ("case01", "image.nii.gz", "labels.nii.gz"),
        ("case02", "ct.nrrd", "reference.nrrd"),
        ("case03", "dicom", "seg.nii.gz"),
    ]
    assert skipped == ["notes: no labels file (labels.nii.gz, reference.nrrd, ...)."]


def test_a_csv_lists_cases_relative_to_itself(tmp_path) -> None:
    (tmp_path / "list.csv").write_text("case,image,labels\nA,a/img.nii.gz,a/lab.nii.gz\n,b/ct.nrrd,b/gt.nrrd\n,,\n")
    cases, skipped = find_cases(tmp_path / "list.csv")
    assert cases == [
        BatchCase("A", (tmp_path / "a/img.nii.gz").resolve(), (tmp_path / "a/lab.nii.gz").resolve()),
        BatchCase("ct", (tmp_path / "b/ct.nrrd").resolve(), (tmp_path / "b/gt.nrrd").resolve()),
    ]
    assert skipped == ["line 4: empty image or labels."]


@pytest.mark.parametrize("content", ["image,mask\na,b\n", "case,image,labels\n"])
def test_a_csv_without_the_needed_columns_or_rows_is_refused(tmp_path, content) -> None:
    (tmp_path / "list.csv").write_text(content)
    with pytest.raises(InputError):
        find_cases(tmp_path / "list.csv")


def test_a_folder_without_cases_is_refused_in_words(tmp_path) -> None:
    with pytest.raises(InputError, match="No cases found"):
        find_cases(tmp_path)


@pytest.fixture
def package(threshold_model):
    from kneeseg_app.core.model.package import load_model_package

    return load_model_package(threshold_model)


def test_every_model_runs_on_every_case_and_a_bad_case_does_not_stop_the_batch(tmp_path, package) -> None:
    write_case(tmp_path / "cases" / "good")
    write_case(tmp_path / "cases" / "shifted", shift_mm=1.6)
    bad = tmp_path / "cases" / "bad"
    write_case(bad)
    sitk.WriteImage(sitk.Image(5, 5, 5, sitk.sitkUInt8), str(bad / "labels.nii.gz"))  # wrong grid
    cases, _ = find_cases(tmp_path / "cases")
    seen = []
    result = run_batch(cases, [package], engine_segment(), on_outcome=seen.append)
    assert [o.case_id for o in result.outcomes] == ["bad", "good", "shifted"] == [o.case_id for o in seen]
    bad_outcome, good, shifted = result.outcomes
    assert not bad_outcome.ok and "labels.nii.gz" not in bad_outcome.metrics
    assert "grid" in bad_outcome.error.lower() or "size" in bad_outcome.error.lower(), bad_outcome.error
    assert good.metrics["femur"].dice > 0.9 and good.metrics["tibia"].dice > 0.9
    assert shifted.metrics["femur"].dice < good.metrics["femur"].dice - 0.05  # the reference moved by 2 voxels
    assert shifted.metrics["femur"].hd95_mm > good.metrics["femur"].hd95_mm
    assert good.seconds > 0
    summary = {(r.bone, r.metric): r for r in result.summary("test-threshold-2d")}
    dice = summary[("femur", "dice")]
    assert dice.n == 2 and dice.mean == pytest.approx((good.metrics["femur"].dice + shifted.metrics["femur"].dice) / 2)
    assert result.values("test-threshold-2d", "tibia", "hd95_mm") == [
        good.metrics["tibia"].hd95_mm,
        shifted.metrics["tibia"].hd95_mm,
    ]
    mean, _ = result.timing("test-threshold-2d")
    assert mean == pytest.approx((good.seconds + shifted.seconds) / 2)


def test_a_cancelled_batch_stops_and_says_so(tmp_path, package) -> None:
    for name in ("a", "b", "c"):
        write_case(tmp_path / name)
    cases, _ = find_cases(tmp_path)
    token = CancelToken()

    def segment_then_cancel(pkg, volume, progress, cancel):
        token.cancel()
        return engine_segment()(pkg, volume, progress, cancel)

    result = run_batch(cases, [package], segment_then_cancel, cancel=token)
    assert result.cancelled and result.outcomes == []


def test_exports_hold_every_case_and_the_summary(tmp_path, package) -> None:
    write_case(tmp_path / "cases" / "one")
    write_case(tmp_path / "cases" / "two", shift_mm=0.8)
    result = run_batch(find_cases(tmp_path / "cases")[0], [package], engine_segment())
    cases_csv = batch_logic.write_outcomes_csv(result, tmp_path / "out" / "cases.csv")
    rows = list(csv.DictReader(cases_csv.open(encoding="utf-8")))
    assert [(r["case"], r["bone"]) for r in rows] == [
        ("one", "femur"),
        ("one", "tibia"),
        ("two", "femur"),
        ("two", "tibia"),
    ]
    assert float(rows[0]["dice"]) == pytest.approx(result.outcomes[0].metrics["femur"].dice, rel=1e-5)
    summary_csv = batch_logic.write_summary_table_csv(result, tmp_path / "out" / "summary.csv")
    summary = list(csv.DictReader(summary_csv.open(encoding="utf-8")))
    assert any(r["metric"] == "dice" and r["bone"] == "tibia" and "±" in r["mean_sd"] for r in summary)
    assert summary[-1]["metric"] == "seconds_per_volume"
    from kneeseg_app.core.errors import OutputError

    with pytest.raises(OutputError):
        batch_logic.write_outcomes_csv(result, cases_csv)  # never overwritten silently


def test_box_statistics_use_tukey_whiskers() -> None:
    low, q1, median, q3, high = box_stats([1, 2, 3, 4, 100, math.inf])
    assert (q1, median, q3) == (2, 3, 4)
    assert low == 1 and high == 4  # 100 is an outlier beyond 1.5 IQR
    assert box_stats([math.nan]) is None
