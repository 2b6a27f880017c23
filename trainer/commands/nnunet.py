"""``kneeseg-train nnunet``: plan, preprocess and train nnU-Net v2."""

from __future__ import annotations

import argparse

from trainer.commands import common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nnunet", help="plan, preprocess and train nnU-Net v2")
    common.add_schedule(p)
    p.add_argument("--configuration", default="2d", help="2d (default) or 3d_fullres")
    p.add_argument("--small", action="store_true", help="train the CPU-friendly '2d_small' configuration instead")
    p.add_argument(
        "--small-features",
        nargs=2,
        type=int,
        default=[16, 224],
        metavar=("BASE", "MAX"),
        help="features of the first stage and at most (default 16 224: a 27 MB model at 7 stages)",
    )
    p.add_argument("--small-spacing", type=float, default=None, help="in-plane mm of '2d_small' (default: as '2d')")
    p.add_argument("--batch-size", type=int, default=None, help="batch size of '2d_small' (default: planned)")
    p.add_argument(
        "--small-max-patch",
        type=int,
        default=None,
        help="largest patch edge nnU-Net may plan for '2d_small' (default: no cap)",
    )
    common.add_compute(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trainer.nnunet.pipeline import SmallNetwork

    small = None
    if args.small:
        base, most = args.small_features
        small = SmallNetwork(base, most, args.small_spacing, args.batch_size, max_patch=args.small_max_patch)
    configuration = small.name if small is not None else args.configuration
    data = common.planned_dataset(args, configuration, small)
    trainer = common.trainer_name("nnunet", args.epochs, args.iterations)
    return common.train_and_report(args, data, configuration, trainer)
