"""Shared, session-scoped training pipeline on tiny phantoms (built once, used by many tests).

synth (10 phantoms of 32x96x96 voxels) -> prepare (patient split) -> nnU-Net plans a tiny
'2d_small' network (patch capped at 64) -> 2 epochs x 3 iterations on fold 0 on the CPU -> export with both
checks. The custom U-Net (narrow ResNet50V2) trains on the same preprocessed data.
Everything runs the real components (nnU-Net in its own processes, onnxruntime, the
app's engine); only the sizes are small. Tests that need torch or nnU-Net are skipped
when the [train] extra is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TINY_SHAPE = (32, 96, 96)
DATASET_ID = 11
COMPUTE = ["--device", "cpu", "--threads", "2", "--workers", "0", "--quiet"]


def require_training_stack() -> None:
    for module in ("torch", "nnunetv2", "timm", "onnx", "onnxruntime"):
        pytest.importorskip(module)


@pytest.fixture(scope="session")
def phantom_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from trainer.synth import SynthSettings, synth_dataset

    out = tmp_path_factory.mktemp("phantoms") / "data"
    return synth_dataset(
        out, SynthSettings(10, seed=7, shape_zyx=TINY_SHAPE, osteoarthritis_fraction=0.5, second_knee_fraction=0.5)
    )


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory, phantom_table: Path) -> Path:
    from trainer.cli import main

    work = tmp_path_factory.mktemp("study") / "W"
    assert (
        main(
            [
                "prepare",
                "--cases",
                str(phantom_table),
                "--workdir",
                str(work),
                "--dataset-id",
                str(DATASET_ID),
                "--test-fraction",
                "0.3",
                "--seed",
                "1",
            ]
        )
        == 0
    )
    return work


@pytest.fixture(scope="session")
def nnunet_run(workdir: Path):
    """A trained tiny nnU-Net ('2d_small', 8-64 features), through the CLI."""
    require_training_stack()
    from trainer.cli import main
    from trainer.nnunet.env import NnunetFolders
    from trainer.nnunet.pipeline import results_folder
    from trainer.nnunet.run import TrainedRun

    code = main(
        [
            "nnunet",
            "--workdir",
            str(workdir),
            "--dataset",
            str(DATASET_ID),
            "--folds",
            "0",
            "--epochs",
            "2",
            "--iterations",
            "3",
            "--small",
            "--small-features",
            "8",
            "64",
            "--small-max-patch",
            "64",
            *COMPUTE,
        ]
    )
    assert code == 0
    folders = NnunetFolders.in_workdir(workdir)
    return TrainedRun.from_folder(
        results_folder(folders, f"Dataset{DATASET_ID:03d}_KneeCT", "nnUNetTrainerKneeSeg_2ep_3it", "2d_small")
    )


@pytest.fixture(scope="session")
def test_images(workdir: Path) -> list[Path]:
    return sorted((workdir / "nnUNet_raw" / f"Dataset{DATASET_ID:03d}_KneeCT" / "imagesTs").glob("*_0000.nii.gz"))


@pytest.fixture(scope="session")
def nnunet_package(nnunet_run, test_images: list[Path], tmp_path_factory: pytest.TempPathFactory):
    from trainer.export import ExportSettings, export_package
    from trainer.manifest import PackageInfo

    out = tmp_path_factory.mktemp("packages") / "tiny-nnunet"
    info = PackageInfo(name="tiny-nnunet", synthetic=True, data="tiny test phantoms")
    return export_package(nnunet_run.folder, out, info, ExportSettings(folds="best", check_images=test_images[:1]))


@pytest.fixture(scope="session")
def unet_run(workdir: Path, nnunet_run):
    """The custom U-Net (narrow ResNet50V2 encoder), same preprocessed data; after nnunet_run (plans exist)."""
    require_training_stack()
    from trainer.cli import main
    from trainer.nnunet.env import NnunetFolders
    from trainer.nnunet.run import TrainedRun

    code = main(
        [
            "unet",
            "--workdir",
            str(workdir),
            "--dataset",
            str(DATASET_ID),
            "--configuration",
            "2d_small",
            "--folds",
            "0",
            "--epochs",
            "2",
            "--iterations",
            "3",
            "--small",
            *COMPUTE,
        ]
    )
    assert code == 0
    results = NnunetFolders.in_workdir(workdir).results / f"Dataset{DATASET_ID:03d}_KneeCT"
    (folder,) = results.glob("nnUNetTrainerKneeSegResNet50V2Small_2ep_3it__nnUNetPlans__*")
    return TrainedRun.from_folder(folder)
