"""``kneeseg-train prepare``: an nnU-Net raw dataset and a patient-level test split from a case table."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from kneeseg_app.core.errors import KneeSegError
from trainer.commands import common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="build an nnU-Net raw dataset and a patient-level test split from a case table")
    p.add_argument("--cases", type=Path, required=True, help="CSV with case,image,labels,patient[,split]")
    p.add_argument("--workdir", type=Path, required=True)
    p.add_argument("--dataset-id", type=int, required=True)
    p.add_argument("--name", default="KneeCT")
    p.add_argument("--test-fraction", type=float, default=0.3, help="share of cases held out by patient (default 0.3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds, grouped by patient (default 5)")
    p.add_argument(
        "--relabel", nargs="*", default=[], metavar="OLD=NEW", help="change label values first, e.g. 3=0 4=0"
    )
    p.add_argument("--strict", action="store_true", help="write nothing when any case is rejected")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trainer.casetable import read_case_table
    from trainer.nnunet.env import NnunetFolders
    from trainer.prepare import PrepareSettings, prepare_dataset

    rows = read_case_table(args.cases)
    settings = PrepareSettings(
        args.dataset_id,
        args.name,
        args.test_fraction,
        args.seed,
        args.folds,
        _relabel(args.relabel),
        args.strict,
        args.overwrite,
    )
    report = prepare_dataset(rows, NnunetFolders.in_workdir(args.workdir).raw, settings, common.printer())
    print(report.text())
    return 0


def _relabel(items: Sequence[str]) -> dict[int, int]:
    mapping = {}
    for item in items:
        try:
            old, new = (int(v) for v in item.split("="))
        except ValueError:
            raise KneeSegError(f"--relabel takes OLD=NEW label numbers (e.g. 3=0), not '{item}'.") from None
        mapping[old] = new
    return mapping
