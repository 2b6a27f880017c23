"""``kneeseg-train evaluate``: model packages (and nnU-Net's own predictor) on a test set, by the app's one evaluation runner."""

from __future__ import annotations

import argparse
from pathlib import Path

from kneeseg_app.core.errors import KneeSegError
from trainer.commands import common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="compare model packages on a test set: per-case metrics, tables, plots")
    p.add_argument("--package", nargs="*", type=Path, default=[])
    p.add_argument("--nnunet-run", nargs="*", type=Path, default=[], help="also run nnU-Net's own predictor for a run")
    p.add_argument("--nnunet-folds", nargs="+", default=["best"])
    p.add_argument("--dataset-dir", type=Path, default=None, help="a prepared dataset folder (uses imagesTs/labelsTs)")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--dataset", default=None)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--tta",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="test-time mirroring (default: each package's manifest, as the app does; off for nnU-Net's predictor)",
    )
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trainer.evaluate import (
        eval_cases_from_dataset,
        evaluate,
        nnunet_run_predictor,
        package_predictor,
        write_report,
    )

    cases = eval_cases_from_dataset(_dataset_dir(args))
    models = [package_predictor(p, tta=args.tta, threads=args.threads) for p in args.package]
    for run in args.nnunet_run:
        models.append(
            nnunet_run_predictor(
                run,
                "best"
                if args.nnunet_folds == ["best"]
                else ("all" if args.nnunet_folds == ["all"] else [int(f) for f in args.nnunet_folds]),
                tta=bool(args.tta),
                threads=args.threads or 2,
            )
        )
    if not models:
        raise KneeSegError("Nothing to evaluate: give --package and/or --nnunet-run.")
    results = evaluate(models, cases, common.printer())
    out = write_report(results, args.out, plots=not args.no_plots)
    print((out / "table1.md").read_text(encoding="utf-8"))
    print((out / "timing.md").read_text(encoding="utf-8"))
    print(f"Full report in {out}")
    return 0


def _dataset_dir(args: argparse.Namespace) -> Path:
    if args.dataset_dir is not None:
        return args.dataset_dir
    if args.workdir is None or args.dataset is None:
        raise KneeSegError("Give --dataset-dir DIR, or --workdir and --dataset.")
    from trainer.nnunet.env import NnunetFolders
    from trainer.nnunet.pipeline import dataset_folder_name

    folders = NnunetFolders.in_workdir(args.workdir)
    return folders.raw / dataset_folder_name(folders, args.dataset)
