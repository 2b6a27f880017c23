"""``kneeseg-train env``: the nnU-Net environment of a work folder (to run nnU-Net's own commands)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("env", help="print the nnU-Net environment of a work folder (to run nnU-Net's own commands)")
    p.add_argument("--workdir", type=Path, required=True)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trainer.nnunet.env import Compute, NnunetFolders, nnunet_environment, shell_exports

    print(shell_exports(nnunet_environment(NnunetFolders.in_workdir(args.workdir), Compute(device="cpu"))))
    return 0
