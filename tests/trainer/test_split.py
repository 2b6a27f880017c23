"""Patient-level splits: no patient on both sides, deterministic, explicit splits kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.casetable import CaseRow
from trainer.split import crossval_folds, split_train_test

pytestmark = pytest.mark.train


def _rows(patients: list[str], split: dict[str, str] | None = None) -> list[CaseRow]:
    split = split or {}
    return [CaseRow(f"c{i}", Path("i"), Path("l"), p, split.get(f"c{i}")) for i, p in enumerate(patients)]


PATIENTS = ["P1", "P1", "P2", "P3", "P3", "P4", "P5", "P6", "P6", "P7"]


def test_cases_of_one_patient_stay_together() -> None:
    rows = _rows(PATIENTS)
    sides = split_train_test(rows, 0.3, seed=3)
    for patient in set(PATIENTS):
        assert len({sides[r.case] for r in rows if r.patient == patient}) == 1


def test_the_test_side_holds_about_the_fraction_and_the_split_is_reproducible() -> None:
    rows = _rows(PATIENTS)
    sides = split_train_test(rows, 0.3, seed=3)
    assert 3 <= list(sides.values()).count("test") <= 4
    assert split_train_test(rows, 0.3, seed=3) == sides
    assert any(split_train_test(rows, 0.3, seed=s) != sides for s in range(4, 10))


def test_explicit_splits_are_kept_and_pull_the_whole_patient() -> None:
    rows = _rows(PATIENTS, {"c0": "test", "c2": "train"})
    sides = split_train_test(rows, 0.2, seed=0)
    assert sides["c0"] == sides["c1"] == "test" and sides["c2"] == "train"


def test_a_training_patient_always_remains() -> None:
    rows = _rows(["P1", "P2"])
    sides = split_train_test(rows, 0.9, seed=0)
    assert sorted(sides.values()) == ["test", "train"]


def test_crossval_folds_validate_every_case_once_and_never_split_a_patient() -> None:
    rows = _rows(PATIENTS)
    folds = crossval_folds(rows, 5, seed=0)
    assert len(folds) == 5
    validated = [c for f in folds for c in f["val"]]
    assert sorted(validated) == sorted(r.case for r in rows)
    patient = {r.case: r.patient for r in rows}
    for fold in folds:
        assert not {patient[c] for c in fold["val"]} & {patient[c] for c in fold["train"]}
        assert 1 <= len(fold["val"]) <= 3


def test_fewer_patients_than_folds_give_one_fold_per_patient() -> None:
    assert len(crossval_folds(_rows(["P1", "P1", "P2", "P3"]), 5, seed=0)) == 3
    assert crossval_folds(_rows(["P1", "P1"]), 5, seed=0) == []
