"""``kneeseg-train quantize``: checked int8 copies of a package's networks."""

from __future__ import annotations

import argparse
from pathlib import Path

from trainer.commands import common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "quantize", help="add checked int8 copies of a package's networks (the engine's precision 'int8')"
    )
    p.add_argument("package", type=Path, help="model package folder (changed in place only when every step passes)")
    p.add_argument(
        "--calibration-images",
        nargs="+",
        type=Path,
        required=True,
        metavar="IMG",
        help="CT images (NIfTI/NRRD/MHA files or DICOM folders) to calibrate the int8 activations on",
    )
    p.add_argument("--count", type=int, default=32, help="calibration patches in all (default 32)")
    p.add_argument(
        "--check-image",
        type=Path,
        default=None,
        metavar="IMG",
        help="a held-out CT: refuse the int8 networks unless their labels match float32's on it",
    )
    p.add_argument(
        "--max-dice-loss",
        type=float,
        default=0.002,
        help="largest Dice loss of any bone, int8 vs float32, on the check image (default 0.002)",
    )
    p.add_argument("--threads", type=int, default=None, help="onnxruntime threads of the check (default 2)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trainer.quantize import quantize_package

    result = quantize_package(
        args.package,
        args.calibration_images,
        count=args.count,
        check_image=args.check_image,
        max_dice_loss=args.max_dice_loss,
        threads=args.threads,
        progress=common.printer(),
    )
    print(result.text())
    return 0
