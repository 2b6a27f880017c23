"""Export pieces: ONNX of deep nnU-Net networks, the agreement measure of the engine check, the manifest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.train
for _module in ("torch", "nnunetv2", "onnx"):
    pytest.importorskip(_module)

import torch  # noqa: E402
from dynamic_network_architectures.architectures.unet import PlainConvUNet  # noqa: E402

from trainer.export import agreement, ambiguous_voxels, export_onnx, onnx_max_abs_diff  # noqa: E402


def _deep_unet() -> torch.nn.Module:
    """Seven stages (stride 64) like the demo model, with few features."""
    return PlainConvUNet(
        1,
        7,
        [4, 4, 8, 8, 8, 8, 8],
        torch.nn.Conv2d,
        3,
        [1, 2, 2, 2, 2, 2, 2],
        2,
        3,
        2,
        True,
        torch.nn.InstanceNorm2d,
        {"eps": 1e-5, "affine": True},
        None,
        None,
        torch.nn.LeakyReLU,
        {"inplace": True},
        deep_supervision=False,
    ).eval()


def test_a_seven_stage_instance_norm_network_exports_at_its_patch_size(tmp_path: Path) -> None:
    net = _deep_unet()
    path = tmp_path / "deep.onnx"
    export_onnx(net, path, [128, 128])
    assert onnx_max_abs_diff(net, path, [128, 128], [64, 64]) < 1e-4


def test_agreement_is_dice_per_label_and_one_when_both_lack_it() -> None:
    a = np.zeros((2, 4, 4), np.uint8)
    b = a.copy()
    a[0, :2, :2] = 1
    b[0, :2, :1] = 1
    assert agreement(a, b, {0: "background", 1: "femur", 2: "tibia"}) == {"femur": round(2 * 2 / 6, 6), "tibia": 1.0}


def test_ambiguous_voxels_are_those_with_nearly_tied_top_classes() -> None:
    probabilities = np.array([[0.5, 0.9], [0.496, 0.05], [0.004, 0.05]], dtype=np.float32).reshape(3, 1, 1, 2)
    assert ambiguous_voxels(probabilities, 0.01).ravel().tolist() == [True, False]
