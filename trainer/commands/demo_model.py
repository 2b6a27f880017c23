"""``kneeseg-train demo-model``: the whole recipe of the shipped demo model, in one go."""

from __future__ import annotations

import argparse
from pathlib import Path

from trainer.commands import common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo-model", help="the whole recipe of the shipped demo model, in one go")
    p.add_argument("--out", type=Path, required=True, help="folder for the model package")
    p.add_argument("--workdir", type=Path, default=None, help="work folder (default: OUT.work)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--iterations", type=int, default=None)
    p.add_argument("--train-cases", type=int, default=None)
    p.add_argument("--test-cases", type=int, default=None)
    p.add_argument("--folds", nargs="+", default=["0"])
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trainer.demo_recipe import DemoRecipe, run_demo_recipe

    recipe = DemoRecipe.for_device(
        args.device,
        epochs=args.epochs,
        iterations=args.iterations,
        train_cases=args.train_cases,
        test_cases=args.test_cases,
        folds=common.folds(args.folds),
    )
    if args.device == "cuda":
        common.require_cuda(1)
    outcome = run_demo_recipe(recipe, args.out, args.workdir, threads=args.threads, progress=common.printer())
    print(outcome.text())
    return 0 if outcome.quality_met else 1
