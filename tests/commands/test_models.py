"""``kneeseg models`` lists usable models with their facts and unusable ones with why."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from kneeseg_app.cli import main
from kneeseg_app.core import paths

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from onnx_factory import edit_manifest, write_model_package  # noqa: E402


@pytest.fixture()
def folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    monkeypatch.setenv("KNEESEG_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(paths, "bundled_models_dir", lambda: tmp_path / "bundled")
    return tmp_path / "bundled", paths.user_models_dir()


def test_lists_models_with_their_manifest_facts_and_the_rejected_with_reasons(folders, capsys) -> None:
    bundled, user = folders
    write_model_package(bundled / "a", name="knee-a", patch_size=(64, 64), target_spacing=(0.8, 0.8))
    broken = write_model_package(user / "b", name="knee-b")
    edit_manifest(broken, schema_version=3)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "knee-a 0.0.1 (nnunet-2d, 1 network)  [default]" in out
    assert "labels      1=femur, 2=tibia" in out
    assert "spacing 0.8 x 0.8 mm, patch 64 x 64" in out
    assert "training    none (hand-set weights)" in out
    assert "validation  Dice femur 1.000, tibia 1.000" in out
    assert "NOT FOR CLINICAL USE" in out
    assert "Cannot be used:" in out
    assert f"{broken}: it needs a newer KneeSeg" in out


def test_a_manifest_with_a_misspelt_key_is_listed_as_rejected_naming_the_key(folders, capsys) -> None:
    bundled, user = folders
    write_model_package(bundled / "good", name="good")
    typo = write_model_package(user / "typo", name="typo", inference={"skip_empty_slice": True})
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "typo 0.0.1" not in out
    rejected = out.split("Cannot be used:", 1)[1]
    assert (
        f"{typo}: its manifest.json has an unknown key 'inference.skip_empty_slice' "
        "(did you mean 'skip_empty_slices'?)" in rejected
    )


def test_check_opens_every_network_and_reports_a_damaged_one(folders, capsys) -> None:
    bundled, user = folders
    write_model_package(bundled / "good", name="good")
    damaged = write_model_package(user / "damaged", name="damaged")
    (damaged / "fold_0.onnx").write_bytes(b"garbage")
    assert main(["models", "--check"]) == 1
    out = capsys.readouterr().out
    assert "check       OK (checksums match, networks open)" in out
    assert "check       FAILED: The model at" in out and "checksum of fold_0.onnx does not match" in out


def test_extra_folders_are_searched(folders, tmp_path: Path, capsys) -> None:
    write_model_package(tmp_path / "elsewhere" / "x", name="extra-model")
    assert main(["models", "--dir", str(tmp_path / "elsewhere")]) == 0
    assert "extra-model" in capsys.readouterr().out


def test_no_model_at_all_says_where_it_looked(folders, capsys) -> None:
    assert main(["models"]) == 1
    out = capsys.readouterr().out
    assert "No usable model found" in out and str(folders[0]) in out
