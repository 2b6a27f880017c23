"""The custom 2D U-Net of the study: a pre-activation ResNet-50 (ResNet50V2) encoder.

The encoder is timm's ``resnetv2_50`` (the pre-activation ResNet-50 of He et al. 2016,
the architecture Keras calls ResNet50V2) taken as a feature pyramid at strides
2, 4, 8, 16 and 32; the decoder upsamples step by step, concatenating the encoder
feature of the same stride (U-Net skip connections), and ends at full resolution.
One input channel (CT), raw logits out.

It is trained by :class:`trainer.nnunet.trainers.nnUNetTrainerKneeSegResNet50V2` on
nnU-Net's preprocessed data, so it sees exactly the spacing, normalisation, patches
and augmentation nnU-Net's own 2D network sees. Pretrained encoder weights come only
from a local file (:func:`load_encoder_weights`); nothing is downloaded.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from trainer.errors import TrainingError

ENCODER_STRIDE = 32
"""Input sizes must be multiples of this (five stride-2 steps in the encoder)."""

_SMALL_ENCODER = {"layers": (1, 1, 1, 1), "channels": (32, 64, 128, 256), "stem_chs": 16}
_DECODER_FULL = (256, 128, 64, 32, 16)
_DECODER_SMALL = (64, 32, 16, 16, 16)


def create_encoder(in_channels: int, small: bool = False, weights: str | Path | None = None) -> nn.Module:
    """timm's resnetv2_50 as a 5-level feature extractor (narrow and shallow when ``small``).

    ``weights``: a local ``.safetensors`` or ``.pth`` state dict of timm's ``resnetv2_50``
    (e.g. ImageNet weights); its 3-channel stem is summed to ``in_channels`` by timm.
    """
    import timm

    kwargs: dict = {"features_only": True, "in_chans": in_channels}
    if small:
        kwargs.update(_SMALL_ENCODER)
    if weights is None:
        return timm.create_model("resnetv2_50", pretrained=False, **kwargs)
    path = Path(weights)
    if not path.is_file():
        raise TrainingError(f"The encoder weights file {path} does not exist.")
    if small:
        raise TrainingError("Pretrained encoder weights fit the full ResNet50V2 encoder only, not --small.")
    try:
        # timm reads a local file given as pretrained_cfg 'file': no network access
        return timm.create_model("resnetv2_50", pretrained=True, pretrained_cfg_overlay={"file": str(path)}, **kwargs)
    except (RuntimeError, KeyError, ValueError, OSError) as exc:
        raise TrainingError(f"The encoder weights in {path.name} do not fit timm's resnetv2_50 ({exc}).") from exc


class _ConvBnAct(nn.Sequential):
    def __init__(self, cin: int, cout: int):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class _UpBlock(nn.Module):
    """Upsample to the skip's size, concatenate it, two 3x3 convolutions."""

    def __init__(self, cin: int, cskip: int, cout: int):
        super().__init__()
        self.convs = nn.Sequential(_ConvBnAct(cin + cskip, cout), _ConvBnAct(cout, cout))

    def forward(self, x: torch.Tensor, skip: torch.Tensor | None, size: list[int] | None = None) -> torch.Tensor:
        target = skip.shape[-2:] if skip is not None else size
        x = F.interpolate(x, size=target, mode="nearest")
        if skip is not None:
            x = torch.cat([x, skip], dim=1)
        return self.convs(x)


class UNetDecoder(nn.Module):
    """Decoder from stride 32 to stride 1 with skips at strides 16, 8, 4 and 2."""

    def __init__(self, encoder_channels: list[int], decoder_channels: tuple[int, ...], num_classes: int):
        super().__init__()
        skips = list(reversed(encoder_channels[:-1])) + [0]  # strides 16, 8, 4, 2, then full resolution
        cins = [encoder_channels[-1], *decoder_channels[:-1]]
        self.bottleneck_norm = nn.Sequential(nn.BatchNorm2d(encoder_channels[-1]), nn.ReLU(inplace=True))
        self.blocks = nn.ModuleList(_UpBlock(ci, cs, co) for ci, cs, co in zip(cins, skips, decoder_channels))
        self.head = nn.Conv2d(decoder_channels[-1], num_classes, 1)
        self.deep_supervision = False  # nnU-Net's trainer sets this attribute; one output either way

    def forward(self, features: list[torch.Tensor], input_size: list[int]) -> torch.Tensor:
        x = self.bottleneck_norm(features[-1])  # pre-activation encoders end un-normalised
        skips = list(reversed(features[:-1])) + [None]
        for block, skip in zip(self.blocks, skips):
            x = block(x, skip, input_size)
        return self.head(x)


class ResNetV2UNet(nn.Module):
    """2D U-Net: ResNet50V2 encoder + upsampling decoder with skip connections."""

    def __init__(
        self, in_channels: int = 1, num_classes: int = 3, small: bool = False, encoder_weights: str | Path | None = None
    ):
        super().__init__()
        self.encoder = create_encoder(in_channels, small=small, weights=encoder_weights)
        channels = self.encoder.feature_info.channels()
        self.decoder = UNetDecoder(channels, _DECODER_SMALL if small else _DECODER_FULL, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x), list(x.shape[-2:]))
