"""Synthetic datasets: a case table like a hospital's, patients with two knees, DICOM or NIfTI."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kneeseg_app.core.errors import OutputError
from kneeseg_app.core.imageio import open_volume, read_label_map
from trainer.casetable import read_case_table
from trainer.synth import SynthSettings, plan_cases, synth_dataset

pytestmark = pytest.mark.train

SMALL = (16, 48, 48)


def test_plan_is_deterministic_and_pairs_share_a_patient() -> None:
    settings = SynthSettings(12, seed=40, second_knee_fraction=0.5, osteoarthritis_fraction=0.5)
    cases = plan_cases(settings)
    assert cases == plan_cases(settings) and len(cases) == 12
    by_patient: dict[str, list] = {}
    for case in cases:
        by_patient.setdefault(case.patient, []).append(case)
    pairs = [c for c in by_patient.values() if len(c) == 2]
    assert pairs, "some patients must have a second knee"
    for first, second in pairs:
        assert (first.seed, first.mirrored, second.mirrored) == (second.seed, False, True)
        assert first.osteoarthritis == second.osteoarthritis
    n_oa = sum(group[0].osteoarthritis for group in by_patient.values())
    assert n_oa == round(0.5 * len(by_patient))


def test_nifti_dataset_has_images_labels_and_a_readable_table(tmp_path: Path) -> None:
    table = synth_dataset(tmp_path / "d", SynthSettings(3, seed=3, shape_zyx=SMALL, second_knee_fraction=1.0))
    rows = read_case_table(table)
    assert [r.patient for r in rows] == ["P00003", "P00003", "P00004"]
    first = open_volume(rows[0].image)
    labels = read_label_map(rows[0].labels, reference=first)
    assert first.shape == SMALL and set(np.unique(labels.array)) <= {0, 1, 2} and (labels.array == 1).any()
    mirrored = open_volume(rows[1].image)
    assert np.array_equal(mirrored.array, first.array[:, :, ::-1])
    with open(table, newline="") as handle:
        assert next(csv.reader(handle)) == ["case", "image", "labels", "patient", "seed", "osteoarthritis", "mirrored"]


def test_dicom_dataset_is_read_back_by_the_app_reader(tmp_path: Path) -> None:
    table = synth_dataset(tmp_path / "d", SynthSettings(1, seed=5, shape_zyx=SMALL, image_format="dicom"))
    (row,) = read_case_table(table)
    volume = open_volume(row.image)
    assert row.image.is_dir() and volume.shape == SMALL and volume.dicom is not None
    read_label_map(row.labels, reference=volume)


def test_an_existing_non_empty_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("keep me")
    with pytest.raises(OutputError, match="not empty"):
        synth_dataset(tmp_path / "d", SynthSettings(1, shape_zyx=SMALL))
    assert (tmp_path / "d" / "x").read_text(encoding="utf-8") == "keep me"


def test_drawing_in_parallel_processes_gives_the_same_dataset(tmp_path: Path) -> None:
    settings = SynthSettings(2, seed=9, shape_zyx=SMALL, second_knee_fraction=1.0)
    serial = read_case_table(synth_dataset(tmp_path / "a", settings))
    parallel = read_case_table(synth_dataset(tmp_path / "b", settings, workers=2))
    for one, two in zip(serial, parallel):
        assert np.array_equal(open_volume(one.image).array, open_volume(two.image).array)
        assert np.array_equal(read_label_map(one.labels).array, read_label_map(two.labels).array)


def test_negatives_and_synthseg_cases_are_planned_as_asked() -> None:
    settings = SynthSettings(20, seed=7, negative_fraction=0.25, synthseg_fraction=0.5, variation="wide")
    cases = plan_cases(settings)
    assert len(cases) == 20 and cases == plan_cases(settings)
    negatives = [c for c in cases if c.kind != "knee"]
    assert len(negatives) == 5 and all(c.patient.startswith("N") for c in negatives)
    assert {c.seed for c in negatives}.isdisjoint({c.seed for c in cases if c.kind == "knee"})
    assert 4 <= sum(c.synthseg for c in cases) <= 16
    assert plan_cases(SynthSettings(12, seed=40)) == plan_cases(SynthSettings(12, seed=40, variation="wide")), (
        "fractions 0: the old plan"
    )


def test_wide_dataset_with_negatives_and_synthseg_images(tmp_path: Path) -> None:
    settings = SynthSettings(
        3,
        seed=11,
        shape_zyx=SMALL,
        second_knee_fraction=0.0,
        variation="wide",
        negative_fraction=0.34,
        synthseg_fraction=1.0,
    )
    table = synth_dataset(tmp_path / "d", settings)
    rows = read_case_table(table)
    with open(table, newline="") as handle:
        extra = {r["case"]: r for r in csv.DictReader(handle)}
    for row in rows:
        labels = read_label_map(table.parent / row.labels)
        image = open_volume(table.parent / row.image)
        assert image.shape == SMALL and labels.same_grid(image)
        if extra[row.case]["kind"] == "knee":
            assert set(np.unique(labels.array)) == {0, 1, 2}
        else:
            assert not labels.array.any(), "a CT without a knee has no femur or tibia"
    assert sum(e["kind"] != "knee" for e in extra.values()) == 1
    assert all(e["synthseg"] == "1" for e in extra.values())


def test_negatives_can_be_drawn_from_chosen_kinds_only() -> None:
    settings = SynthSettings(20, seed=7, negative_fraction=0.5, variation="wide", negative_kinds=("head", "air"))
    kinds = {c.kind for c in plan_cases(settings) if c.kind != "knee"}
    assert kinds == {"head", "air"}
    with pytest.raises(ValueError, match="negative kinds"):
        SynthSettings(4, negative_kinds=("elbow",))


def test_hard_cases_are_wide_knees_pinned_by_their_themes() -> None:
    settings = SynthSettings(12, seed=3000, variation="wide", negative_fraction=0.25, hard_fraction=1.0)
    cases = plan_cases(settings)
    assert all(c.hard == (c.kind == "knee") for c in cases), "negatives are never hard knees"
    assert not any(c.hard for c in plan_cases(replace(settings, hard_fraction=0.0)))
    with pytest.raises(ValueError, match="wide"):
        SynthSettings(4, hard_fraction=0.5)
