"""End to end on tiny phantoms: nnU-Net and the custom U-Net trained, exported with checks, evaluated.

The pipeline is built once per session (see conftest.py); each test checks one promise.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.train, pytest.mark.slow]
for _module in ("torch", "nnunetv2", "timm", "onnx"):
    pytest.importorskip(_module)

from kneeseg_app.core.model.package import load_model_package  # noqa: E402
from trainer.cli import main  # noqa: E402
from trainer.errors import ExportCheckError  # noqa: E402
from trainer.export import ExportSettings, export_package  # noqa: E402
from trainer.manifest import PackageInfo  # noqa: E402
from trainer.nnunet.env import Compute, NnunetFolders, nnunet_environment  # noqa: E402

DATASET_ID = 11  # conftest.py's tiny study


def test_nnunet_planned_a_small_2d_configuration_that_inherits_2d(nnunet_run, workdir: Path) -> None:
    plans = json.loads(
        (workdir / "nnUNet_preprocessed" / f"Dataset{DATASET_ID:03d}_KneeCT" / "nnUNetPlans.json").read_text(
            encoding="utf-8"
        )
    )
    small = plans["configurations"]["2d_small"]
    assert small["inherits_from"] == "2d" and small["data_identifier"] == "nnUNetPlans_2d_small"
    assert max(small["architecture"]["arch_kwargs"]["features_per_stage"]) == 64
    assert small["architecture"]["arch_kwargs"]["features_per_stage"][0] == 8
    # the patch cap is honoured by nnU-Net's planner, which derives the stages from it
    assert max(small["patch_size"]) <= 64
    assert len(small["architecture"]["arch_kwargs"]["features_per_stage"]) == 5
    assert nnunet_run.configuration_dict()["normalization_schemes"] == ["CTNormalization"]


def test_training_followed_the_short_schedule_and_recorded_the_best_fold(nnunet_run) -> None:
    fold = nnunet_run.folder / "fold_0"
    debug = json.loads((fold / "debug.json").read_text(encoding="utf-8"))
    assert (debug["num_epochs"], debug["num_iterations_per_epoch"]) == ("2", "3")
    assert (fold / "checkpoint_final.pth").is_file() and (fold / "validation" / "summary.json").is_file()
    selection = json.loads((nnunet_run.folder / "kneeseg_folds.json").read_text(encoding="utf-8"))
    assert selection["best_fold"] == 0 and 0.0 <= selection["validation_dice"]["0"] <= 1.0
    assert (nnunet_run.folder / "kneeseg_logs" / "train_fold_0.log").is_file()


def test_nnunet_predictor_loads_the_run_by_its_trainer_name(nnunet_run, workdir: Path) -> None:
    """What nnUNetv2_predict does: find the KneeSeg trainer class through nnUNet_extTrainer."""
    env = nnunet_environment(NnunetFolders.in_workdir(workdir), Compute(device="cpu", threads=1))
    script = textwrap.dedent(f"""
        import torch
        from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor
        p = nnUNetPredictor(device=torch.device("cpu"), allow_tqdm=False)
        p.initialize_from_trained_model_folder({str(nnunet_run.folder)!r}, (0,))
        print(p.trainer_name, type(p.network).__name__)
    """)
    out = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "nnUNetTrainerKneeSeg_2ep_3it PlainConvUNet"


def test_the_exported_package_is_what_the_app_reads_and_matches_the_plans(nnunet_package, nnunet_run) -> None:
    package = load_model_package(nnunet_package.package)
    package.verify()
    m = package.manifest
    config = nnunet_run.configuration_dict()
    props = nnunet_run.plans["foreground_intensity_properties_per_channel"]["0"]
    assert m.family == "nnunet-2d" and m.input.dims == 2 and m.clinical_use is False
    assert list(m.input.patch_size) == config["patch_size"]
    assert list(m.input.target_spacing) == pytest.approx(config["spacing"])
    assert list(m.input.transpose_forward) == nnunet_run.plans["transpose_forward"]
    assert (m.normalization.lower, m.normalization.upper) == (props["percentile_00_5"], props["percentile_99_5"])
    assert (m.normalization.mean, m.normalization.std) == pytest.approx((props["mean"], props["std"]))
    assert m.labels == {0: "background", 1: "femur", 2: "tibia"} and m.training.synthetic is True
    assert [n.fold for n in m.networks] == [0]
    assert nnunet_package.onnx_max_abs_diff < 1e-3
    (checked,) = nnunet_package.engine_dice.values()
    assert checked["femur"] >= 0.999 and checked["tibia"] >= 0.999
    raw = json.loads((nnunet_package.package / "manifest.json").read_text(encoding="utf-8"))
    assert raw["checks"]["engine_vs_nnunet_dice"] == nnunet_package.engine_dice


def test_a_failed_check_writes_no_package(nnunet_run, test_images: list[Path], tmp_path: Path) -> None:
    target = tmp_path / "never"
    settings = ExportSettings(folds=[0], check_images=test_images[:1], min_dice=1.5)
    with pytest.raises(ExportCheckError, match="disagree.*no package was written"):
        export_package(nnunet_run.folder, target, PackageInfo(name="never"), settings)
    assert list(tmp_path.iterdir()) == []


def test_export_needs_a_held_out_image(nnunet_run, tmp_path: Path) -> None:
    with pytest.raises(ExportCheckError, match="held-out image"):
        export_package(nnunet_run.folder, tmp_path / "p", PackageInfo(name="p"), ExportSettings(folds=[0]))


def test_the_custom_unet_trains_on_the_same_data_and_exports_as_its_family(
    unet_run, nnunet_run, workdir: Path, tmp_path: Path
) -> None:
    assert unet_run.configuration_dict()["data_identifier"] == nnunet_run.configuration_dict()["data_identifier"]
    out = tmp_path / "unet-pkg"
    code = main(
        [
            "export",
            str(unet_run.folder),
            str(out),
            "--name",
            "tiny-unet",
            "--workdir",
            str(workdir),
            "--synthetic",
            "--folds",
            "0",
            "--threads",
            "2",
        ]
    )
    assert code == 0
    manifest = load_model_package(out).manifest
    assert manifest.family == "custom-unet-2d" and list(manifest.input.divisibility) == [32, 32]


def test_evaluate_writes_per_case_metrics_both_tables_timing_and_plots(
    nnunet_package, nnunet_run, workdir: Path, test_images: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "eval"
    code = main(
        [
            "evaluate",
            "--package",
            str(nnunet_package.package),
            "--nnunet-run",
            str(nnunet_run.folder),
            "--nnunet-folds",
            "0",
            "--workdir",
            str(workdir),
            "--dataset",
            str(DATASET_ID),
            "--out",
            str(out),
            "--threads",
            "2",
        ]
    )
    assert code == 0
    with open(out / "per_case.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * len(test_images) * 2  # models x cases x bones
    assert {"dice", "jaccard", "precision", "recall", "hausdorff_mm", "assd_mm", "seconds", "cpu_seconds"} <= set(
        rows[0]
    )
    table1 = (out / "table1.md").read_text(encoding="utf-8")
    assert "tiny-nnunet" in table1 and "nnUNetPredictor" in table1 and "±" in table1
    assert "ASSD (mm)" in table1 and "Hausdorff distance (mm)" in table1
    assert "[" in (out / "table2.md").read_text(encoding="utf-8") and "HD95" in (out / "table2.md").read_text(
        encoding="utf-8"
    )
    assert (out / "boxplot_dice.png").read_bytes()[:4] == b"\x89PNG"
    assert "CPU time per volume" in (out / "timing.md").read_text(encoding="utf-8")


def test_cli_errors_are_one_line_with_exit_status_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["prepare", "--cases", str(tmp_path / "missing.csv"), "--workdir", str(tmp_path), "--dataset-id", "3"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("kneeseg-train: The case table")


def test_the_cli_module_loads_neither_torch_nor_nnunet() -> None:
    code = "import sys, trainer.cli; print(sorted({'torch', 'nnunetv2', 'timm'} & set(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        encoding="utf-8",
        errors="replace",
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert out.stdout.strip() == "[]", out.stderr
