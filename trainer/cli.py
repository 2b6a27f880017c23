"""``kneeseg-train``: datasets, nnU-Net / custom U-Net training, export and evaluation.

A study, step by step (one work folder holds nnU-Net's raw, preprocessed and results
folders)::

    kneeseg-train synth    data/ --cases 112 --seed 1000                 # or the hospital's own data
    kneeseg-train prepare  --cases data/cases.csv --workdir W --dataset-id 101
    kneeseg-train nnunet   --workdir W --dataset 101 --folds 0 1 2 3 4 --device cuda
    kneeseg-train unet     --workdir W --dataset 101 --folds 0 --device cuda --encoder-weights r50.safetensors
    kneeseg-train export   W/nnUNet_results/Dataset101_KneeCT/nnUNetTrainer__nnUNetPlans__2d pkg/ --name my-model --workdir W
    kneeseg-train quantize pkg/ --calibration-images W/nnUNet_raw/Dataset101_KneeCT/imagesTr/*_0000.nii.gz --check-image ct.nii.gz
    kneeseg-train evaluate --package pkg/ --workdir W --dataset 101 --out eval/

or everything for the shipped demo model: ``kneeseg-train demo-model --out DIR``.
nnU-Net runs in child processes whose environment is set explicitly (see
:mod:`trainer.nnunet.env`); this process never changes its own environment.

Every sub-command lives in its own module under :mod:`trainer.commands` with
``register(sub)`` and ``run(args)``; they are listed here explicitly (no folder walking).
Importing this module loads neither torch nor nnU-Net: each ``run`` imports what it needs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from kneeseg_app.core.errors import KneeSegError
from trainer import __version__
from trainer.commands import (
    demo_model,
    env,
    evaluate,
    export,
    nnunet,
    prepare,
    quantize,
    stress,
    synth,
    unet,
)

COMMANDS = (synth, prepare, nnunet, unet, export, quantize, evaluate, stress, env, demo_model)
"""In the order ``kneeseg-train --help`` lists them (a study's steps first)."""

log = logging.getLogger("kneeseg.train")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kneeseg-train",
        description="KneeSeg trainer: datasets, nnU-Net v2 / custom U-Net training, checked ONNX export, evaluation.",
        epilog="A study, step by step:\n\n"
        + __doc__.split("::\n\n")[1].split("\n\nor everything")[0]
        + "\n\nThe shipped demo model in one go: kneeseg-train demo-model --out DIR",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"kneeseg-train {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages and tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: 0 ok, 1 demo model below the quality bar, 2 bad input or failed step, 70 internal error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return int(args.func(args) or 0)
    except KneeSegError as exc:
        print(f"kneeseg-train: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kneeseg-train: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # one line, never a traceback (unless -v)
        log.debug("internal error", exc_info=True)
        print(f"kneeseg-train: internal error ({type(exc).__name__}: {exc}); run with -v for details.", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
