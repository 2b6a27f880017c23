"""``kneeseg segment --exact`` gives what the engine's exact path gives: nnU-Net's settings, no speed
options, no post-processing (so anyone can reproduce nnU-Net's result from the command line)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from kneeseg_app.cli import main
from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
from kneeseg_app.core.model.package import load_model_package
from kneeseg_app.core.volume import Volume

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from onnx_factory import write_model_package  # noqa: E402

SPEED = {
    "tile_step_size": 0.5,
    "gaussian": True,
    "gaussian_sigma_scale": 0.125,
    "mirror_axes": [0, 1],
    "default_tta": False,
    "roi": "bones",
    "skip_empty_slices": True,
}


@pytest.fixture()
def case(tmp_path: Path) -> tuple[Path, Path]:
    """A leg with a femur (600 HU) and tibia (1400 HU), plus a small dense island post-processing removes,
    segmented by a package whose defaults use bone windows and the anatomy rule."""
    hu = np.full((24, 64, 64), -1000, dtype=np.int16)
    hu[:, 8:56, 8:56] = 40
    hu[:12, 22:42, 22:42] = 1400
    hu[13:, 22:42, 22:42] = 600
    hu[4:6, 10:13, 48:51] = 600  # a dense fleck: a false femur island
    image = tmp_path / "in" / "ct.nii.gz"
    image.parent.mkdir()
    sitk.WriteImage(Volume(hu, (2.0, 1.0, 1.0)).to_sitk(), str(image))
    post = {"largest_component": [1, 2], "rule": "anatomy"}
    package = write_model_package(tmp_path / "pkg", patch_size=(32, 32), inference=SPEED, postprocessing=post)
    return image, package


def _run(image: Path, package: Path, out: Path, *extra: str) -> np.ndarray:
    assert main(["segment", str(image), "--out", str(out), "--model", str(package), "--threads", "1", *extra]) == 0
    return sitk.GetArrayFromImage(sitk.ReadImage(str(out)))


def test_exact_equals_the_engines_exact_path_without_post_processing(case: tuple[Path, Path], tmp_path: Path) -> None:
    image, package_dir = case
    exact = _run(image, package_dir, tmp_path / "exact.nii.gz", "--exact")
    package = load_model_package(package_dir)
    ct = Volume.from_sitk(sitk.ReadImage(str(image)))
    engine = Segmenter(package, SegmentOptions(exact=True, postprocess=False, threads=1)).run(ct)
    assert engine.settings["roi"] == "none" and not engine.settings["skip_empty_slices"]
    np.testing.assert_array_equal(exact, engine.labels.array)
    default = _run(image, package_dir, tmp_path / "default.nii.gz")
    assert exact[4:6, 10:13, 48:51].any() and not default[4:6, 10:13, 48:51].any()  # no post-processing


def test_exact_keeps_the_choice_of_test_time_mirroring(case: tuple[Path, Path], tmp_path: Path) -> None:
    image, package_dir = case
    mirrored = _run(image, package_dir, tmp_path / "tta.nii.gz", "--exact", "--tta")
    package = load_model_package(package_dir)
    ct = Volume.from_sitk(sitk.ReadImage(str(image)))
    engine = Segmenter(package, SegmentOptions(exact=True, postprocess=False, tta=True, threads=1)).run(ct)
    np.testing.assert_array_equal(mirrored, engine.labels.array)
