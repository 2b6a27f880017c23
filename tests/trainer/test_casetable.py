"""The case table: required columns, relative paths, and every problem reported at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.casetable import CaseRow, read_case_table, write_case_table
from trainer.errors import DatasetError

pytestmark = pytest.mark.train


def _table(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cases.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reads_rows_with_paths_relative_to_the_table(tmp_path: Path) -> None:
    rows = read_case_table(_table(tmp_path, "case,image,labels,patient,notes\nk1,img/k1,lab/k1.nii.gz,P1,left\n"))
    assert rows == [CaseRow("k1", tmp_path / "img/k1", tmp_path / "lab/k1.nii.gz", "P1", None)]


def test_missing_columns_are_named(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="lacks the column.*patient"):
        read_case_table(_table(tmp_path, "case,image,labels\nk1,a,b\n"))


def test_duplicate_case_names_and_bad_splits_are_reported_together(tmp_path: Path) -> None:
    text = "case,image,labels,patient,split\nk1,a,b,P1,train\nk1,c,d,P2,train\nk3,e,f,P3,validation\n"
    with pytest.raises(DatasetError) as err:
        read_case_table(_table(tmp_path, text))
    assert "used twice: k1" in str(err.value) and "'validation' is neither" in str(err.value)


def test_an_explicit_split_with_a_patient_on_both_sides_lists_the_patients(tmp_path: Path) -> None:
    text = (
        "case,image,labels,patient,split\n"
        "a,a,a,P1,train\nb,b,b,P1,test\nc,c,c,P2,train\nd,d,d,P3,test\ne,e,e,P3,train\n"
    )
    with pytest.raises(DatasetError, match=r"patient\(s\) P1, P3 have cases in both"):
        read_case_table(_table(tmp_path, text))


def test_case_names_nnunet_cannot_use_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="case name 'knee 1'"):
        read_case_table(_table(tmp_path, "case,image,labels,patient\nknee 1,a,b,P1\n"))


def test_written_tables_read_back(tmp_path: Path) -> None:
    rows = [
        CaseRow("a", Path("i/a"), Path("l/a.nii.gz"), "P1", "train"),
        CaseRow("b", Path("i/b"), Path("l/b.nii.gz"), "P2", "test"),
    ]
    path = write_case_table(rows, tmp_path / "t.csv", extra={"a": {"seed": "5"}})
    back = read_case_table(path)
    assert [(r.case, r.patient, r.split, r.image) for r in back] == [
        ("a", "P1", "train", tmp_path / "i/a"),
        ("b", "P2", "test", tmp_path / "i/b"),
    ]
    assert path.read_text(encoding="utf-8").splitlines()[0] == "case,image,labels,patient,split,seed"
