"""The custom U-Net: ResNet50V2 encoder, skip-connection decoder, local encoder weights only, ONNX export."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.train
for _module in ("torch", "nnunetv2", "timm", "onnx"):
    pytest.importorskip(_module)

import timm  # noqa: E402
import torch  # noqa: E402

from trainer.errors import TrainingError  # noqa: E402
from trainer.export import export_onnx, onnx_max_abs_diff  # noqa: E402
from trainer.unet import ResNetV2UNet, create_encoder  # noqa: E402


def test_the_full_network_is_a_preactivation_resnet50_with_a_full_resolution_output() -> None:
    net = ResNetV2UNet(1, 3).eval()
    assert net.encoder.feature_info.channels() == [64, 256, 512, 1024, 2048]
    assert net.encoder.feature_info.reduction() == [2, 4, 8, 16, 32]
    n_encoder = sum(p.numel() for p in net.encoder.parameters())
    assert 23.0e6 < n_encoder < 24.0e6  # ResNet-50 without its classifier
    with torch.no_grad():
        assert net(torch.zeros(2, 1, 64, 96)).shape == (2, 3, 64, 96)


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_encoder_weights_come_from_a_local_file_with_the_stem_summed_to_one_channel(
    tmp_path: Path, suffix: str
) -> None:
    reference = timm.create_model("resnetv2_50", pretrained=False)
    state = {k: v.contiguous() for k, v in reference.state_dict().items()}
    path = tmp_path / f"r50{suffix}"
    if suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, path)
    encoder = create_encoder(1, weights=path)
    loaded = dict(encoder.named_parameters())
    assert torch.allclose(loaded["stem_conv.weight"][:, 0], state["stem.conv.weight"].sum(1), atol=1e-6)
    assert torch.equal(loaded["stages_3.blocks.2.conv3.weight"], state["stages.3.blocks.2.conv3.weight"])


def test_unusable_encoder_weights_are_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(TrainingError, match="does not exist"):
        create_encoder(1, weights=tmp_path / "missing.pth")
    wrong = tmp_path / "wrong.pth"
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), wrong)
    with pytest.raises(TrainingError, match="do not fit timm's resnetv2_50"):
        create_encoder(1, weights=wrong)
    with pytest.raises(TrainingError, match="--small"):
        create_encoder(1, small=True, weights=wrong)


def test_the_small_network_exports_to_onnx_with_dynamic_sizes(tmp_path: Path) -> None:
    net = ResNetV2UNet(1, 3, small=True).eval()
    path = tmp_path / "net.onnx"
    export_onnx(net, path, [64, 96])
    assert onnx_max_abs_diff(net, path, [64, 96], [32, 32]) < 1e-4
