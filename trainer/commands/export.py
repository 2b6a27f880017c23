"""``kneeseg-train export``: a trained run as a checked KneeSeg model package."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kneeseg_app.core.errors import KneeSegError
from trainer.commands import common


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a trained run as a checked KneeSeg model package")
    p.add_argument("run", type=Path, help="nnU-Net results folder <trainer>__<plans>__<configuration>")
    p.add_argument("out", type=Path, help="package folder to write")
    p.add_argument("--name", required=True, help="model name (unique id in the app)")
    p.add_argument("--model-version", default="1.0.0")
    p.add_argument("--description", default=None)
    p.add_argument("--folds", nargs="+", default=["best"], help="'best' (default), 'all' or fold numbers")
    p.add_argument("--checkpoint", choices=("final", "best"), default="final")
    p.add_argument("--check-image", nargs="*", type=Path, default=[], help="held-out image(s) for the engine check")
    p.add_argument("--workdir", type=Path, default=None, help="use the dataset's first test image for the check")
    p.add_argument("--check-tta", action="store_true", help="compare with mirroring on both sides")
    p.add_argument("--data", default=None, help="what the model was trained on (one line)")
    p.add_argument("--synthetic", action="store_true", help="trained on synthetic data")
    p.add_argument("--seeds", default=None)
    p.add_argument("--license", default="research use only")
    p.add_argument(
        "--clinical-use", action="store_true", help="mark as validated for clinical use (never for synthetic data)"
    )
    p.add_argument(
        "--no-largest-component",
        action="store_true",
        help="keep every component (scans showing both knees have two femurs)",
    )
    p.add_argument("--default-tta", action="store_true", help="the app mirrors by default")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from trainer.export import ExportSettings, export_package
    from trainer.manifest import PackageInfo

    check_images = list(args.check_image) or _default_check_images(args)
    folds = args.folds[0] if args.folds in (["best"], ["all"]) else [int(f) for f in args.folds]
    info = PackageInfo(
        name=args.name,
        version=args.model_version,
        description=args.description or "",
        data=args.data or "",
        synthetic=args.synthetic,
        seeds=args.seeds or "",
        command=" ".join(["kneeseg-train", *sys.argv[1:]]),
        clinical_use=args.clinical_use,
        license=args.license,
        largest_component=not args.no_largest_component,
        default_tta=args.default_tta,
    )
    settings = ExportSettings(
        folds=folds,
        checkpoint=args.checkpoint,
        check_images=check_images,
        check_tta=args.check_tta,
        threads=args.threads or 2,
        overwrite=args.overwrite,
    )
    result = export_package(args.run, args.out, info, settings, progress=common.printer())
    print(result.text())
    return 0


def _default_check_images(args: argparse.Namespace) -> list[Path]:
    """The first held-out test image of the run's dataset in --workdir."""
    from trainer.nnunet.env import NnunetFolders
    from trainer.nnunet.run import TrainedRun

    if args.workdir is None:
        raise KneeSegError("Give --check-image PATH (a held-out image) or --workdir to use the dataset's test set.")
    raw = NnunetFolders.in_workdir(args.workdir).raw / TrainedRun.from_folder(args.run).dataset_name / "imagesTs"
    images = sorted(raw.glob("*_0000.nii.gz"))[:1]
    if not images:
        raise KneeSegError(f"{raw} holds no test image; give --check-image PATH.")
    return images
