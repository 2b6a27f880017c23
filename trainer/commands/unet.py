"""``kneeseg-train unet``: the custom 2D U-Net (ResNet50V2 encoder) on nnU-Net's preprocessed data."""

from __future__ import annotations

import argparse
from pathlib import Path

from trainer.commands import common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "unet", help="train the custom 2D U-Net with a ResNet50V2 encoder on nnU-Net's preprocessed data"
    )
    common.add_schedule(p)
    p.add_argument("--configuration", default="2d", help="nnU-Net configuration whose data it uses (default 2d)")
    p.add_argument("--small", action="store_true", help="a narrow, shallow encoder (tests, CPU)")
    p.add_argument(
        "--encoder-weights",
        type=Path,
        default=None,
        help="local .safetensors/.pth of timm's resnetv2_50 (e.g. ImageNet); nothing is downloaded",
    )
    common.add_compute(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trainer.nnunet.pipeline import ensure_unet_configuration

    data = common.planned_dataset(args, args.configuration)
    configuration = ensure_unet_configuration(data.folders, data.name, args.configuration)
    architecture = "resnet50v2-small" if args.small else "resnet50v2"
    trainer = common.trainer_name(architecture, args.epochs, args.iterations)
    return common.train_and_report(args, data, configuration, trainer, encoder_weights=args.encoder_weights)
