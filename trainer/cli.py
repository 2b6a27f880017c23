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
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from kneeseg_app.core.errors import KneeSegError
from kneeseg_app.core.progress import ProgressCallback
from trainer import __version__

log = logging.getLogger("kneeseg.train")


# ----- shared options --------------------------------------------------------------------------------------------


def _add_compute(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("compute")
    g.add_argument("--device", choices=("cuda", "cpu", "mps"), default="cuda", help="where to train (default cuda)")
    g.add_argument("--num-gpus", type=int, default=1, help="GPUs for nnU-Net's DDP training (default 1)")
    g.add_argument(
        "--threads", type=int, default=None, help="torch/OpenMP threads (default: all cores on CPU, 1 on GPU)"
    )
    g.add_argument(
        "--workers",
        type=int,
        default=None,
        help="nnU-Net data augmentation processes, nnUNet_n_proc_DA (default: 0 on CPU, cores-1 up to 12 on GPU)",
    )


def _add_schedule(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training")
    g.add_argument("--workdir", type=Path, required=True, help="folder holding nnUNet_raw/preprocessed/results")
    g.add_argument("--dataset", required=True, help="dataset ID or DatasetXXX_Name")
    g.add_argument(
        "--folds",
        nargs="+",
        default=["0", "1", "2", "3", "4"],
        help="folds to train: numbers or 'all' (default: 0 1 2 3 4, as the study)",
    )
    g.add_argument("--epochs", type=int, default=None, help="epochs (default: nnU-Net's 1000)")
    g.add_argument("--iterations", type=int, default=None, help="iterations per epoch (default: nnU-Net's 250)")
    g.add_argument("--resume", action="store_true", help="continue folds from their latest checkpoint")
    g.add_argument("--replan", action="store_true", help="plan and preprocess again even if done")
    g.add_argument("--quiet", action="store_true", help="do not echo nnU-Net's output (it is always logged)")


def _compute(args: argparse.Namespace):
    from trainer.nnunet.env import Compute

    if args.device == "cuda":
        _require_cuda(args.num_gpus)
    return Compute(args.device, args.threads, args.workers, args.num_gpus)


def _require_cuda(num_gpus: int) -> None:
    import torch

    available = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if available < num_gpus:
        raise KneeSegError(
            f"{num_gpus} CUDA GPU(s) requested but {available} available; use --device cpu or fewer GPUs."
        )


def _folds(values: Sequence[str]) -> list[int | str]:
    out: list[int | str] = []
    for v in values:
        if v == "all":
            out.append("all")
        elif v.isdigit():
            out.append(int(v))
        else:
            raise KneeSegError(f"'{v}' is not a fold (a number or 'all').")
    return out


def _printer() -> ProgressCallback:
    last = {"stage": None, "tenth": -1}

    def report(stage: str, fraction: float) -> None:
        tenth = int(fraction * 10)
        if stage != last["stage"] or tenth != last["tenth"]:
            print(f"[{fraction * 100:5.1f}%] {stage}", flush=True)
            last.update(stage=stage, tenth=tenth)

    return report


# ----- commands -------------------------------------------------------------------------------------------------------


def cmd_synth(args: argparse.Namespace) -> int:
    from trainer.synth import SynthSettings, synth_dataset

    settings = SynthSettings(
        cases=args.cases,
        seed=args.seed,
        shape_zyx=_triple(args.shape, int),
        spacing_zyx=_triple(args.spacing, float),
        osteoarthritis_fraction=args.oa_fraction,
        second_knee_fraction=args.second_knee_fraction,
        both_legs=bool(args.both_legs),
        image_format=args.format,
        variation=args.variation,
        synthseg_fraction=args.synthseg_fraction,
        negative_fraction=args.negative_fraction,
    )
    table = synth_dataset(args.out, settings, _printer())
    print(f"Wrote {args.cases} phantom cases; case table: {table}")
    return 0


def _triple(values: Sequence | None, kind: Callable) -> tuple | None:
    return None if values is None else tuple(kind(v) for v in values)


def cmd_prepare(args: argparse.Namespace) -> int:
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
    report = prepare_dataset(rows, NnunetFolders.in_workdir(args.workdir).raw, settings, _printer())
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


def cmd_nnunet(args: argparse.Namespace) -> int:
    from trainer.nnunet.env import NnunetFolders
    from trainer.nnunet.pipeline import (
        SmallNetwork,
        dataset_folder_name,
        is_preprocessed,
        plan_and_preprocess,
        train_folds,
    )

    folders = NnunetFolders.in_workdir(args.workdir)
    compute = _compute(args)
    name = dataset_folder_name(folders, args.dataset)
    small = None
    configuration = args.configuration
    if args.small:
        small = SmallNetwork(
            args.small_features[0],
            args.small_features[1],
            args.small_spacing,
            args.batch_size,
            max_patch=args.small_max_patch,
        )
        configuration = small.name
    if args.replan or not is_preprocessed(folders, name, configuration):
        plan_and_preprocess(folders, name, [configuration], small, compute, progress=_printer())
    trainer = _trainer_name("nnunet", args.epochs, args.iterations)
    run = train_folds(
        folders,
        name,
        configuration,
        _folds(args.folds),
        trainer,
        compute,
        args.resume,
        epochs=args.epochs or 1000,
        progress=_printer(),
    )
    _print_run(run)
    return 0


def cmd_unet(args: argparse.Namespace) -> int:
    from trainer.nnunet.env import NnunetFolders
    from trainer.nnunet.pipeline import (
        dataset_folder_name,
        ensure_unet_configuration,
        is_preprocessed,
        plan_and_preprocess,
        train_folds,
    )

    folders = NnunetFolders.in_workdir(args.workdir)
    compute = _compute(args)
    name = dataset_folder_name(folders, args.dataset)
    if args.replan or not is_preprocessed(folders, name, args.configuration):
        plan_and_preprocess(folders, name, [args.configuration], None, compute, progress=_printer())
    configuration = ensure_unet_configuration(folders, name, args.configuration)
    architecture = "resnet50v2-small" if args.small else "resnet50v2"
    trainer = _trainer_name(architecture, args.epochs, args.iterations)
    run = train_folds(
        folders,
        name,
        configuration,
        _folds(args.folds),
        trainer,
        compute,
        args.resume,
        encoder_weights=args.encoder_weights,
        epochs=args.epochs or 1000,
        progress=_printer(),
    )
    _print_run(run)
    return 0


def _trainer_name(architecture: str, epochs: int | None, iterations: int | None) -> str:
    """nnU-Net's own nnUNetTrainer for the paper's unchanged nnU-Net, else a KneeSeg trainer."""
    if architecture == "nnunet" and epochs is None and iterations is None:
        return "nnUNetTrainer"
    from trainer.trainer_names import TrainerSpec

    return TrainerSpec(architecture, epochs or 1000, iterations or 250).class_name


def _print_run(run) -> None:
    scores = run.fold_scores()
    for fold, dice in sorted(scores.items()):
        print(f"fold {fold}: validation Dice {dice:.4f}")
    if scores:
        print(f"best fold: {run.best_fold()}")
    print(f"results: {run.folder}")


def cmd_export(args: argparse.Namespace) -> int:
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
    result = export_package(args.run, args.out, info, settings, progress=_printer())
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


def cmd_quantize(args: argparse.Namespace) -> int:
    from trainer.quantize import quantize_package

    result = quantize_package(
        args.package,
        args.calibration_images,
        count=args.count,
        check_image=args.check_image,
        max_dice_loss=args.max_dice_loss,
        threads=args.threads,
        progress=_printer(),
    )
    print(result.text())
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
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
                tta=args.tta,
                threads=args.threads or 2,
            )
        )
    if not models:
        raise KneeSegError("Nothing to evaluate: give --package and/or --nnunet-run.")
    results = evaluate(models, cases, _printer())
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


def cmd_env(args: argparse.Namespace) -> int:
    from trainer.nnunet.env import Compute, NnunetFolders, nnunet_environment, shell_exports

    print(shell_exports(nnunet_environment(NnunetFolders.in_workdir(args.workdir), Compute(device="cpu"))))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from trainer.demo_recipe import DemoRecipe, run_demo_recipe

    recipe = DemoRecipe.for_device(
        args.device,
        epochs=args.epochs,
        iterations=args.iterations,
        train_cases=args.train_cases,
        test_cases=args.test_cases,
        folds=_folds(args.folds),
    )
    if args.device == "cuda":
        _require_cuda(1)
    outcome = run_demo_recipe(recipe, args.out, args.workdir, threads=args.threads, progress=_printer())
    print(outcome.text())
    return 0 if outcome.quality_met else 1


# ----- parser --------------------------------------------------------------------------------------------------------


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

    p = sub.add_parser("synth", help="write a synthetic knee CT dataset (phantoms) with a case table")
    p.add_argument("out", type=Path, help="new folder for the dataset")
    p.add_argument("--cases", type=int, required=True)
    p.add_argument("--seed", type=int, default=1000, help="seed of the first patient (default 1000)")
    p.add_argument("--shape", nargs=3, metavar=("Z", "Y", "X"), help="voxels per volume (default: realistic, 512x512)")
    p.add_argument("--spacing", nargs=3, metavar=("Z", "Y", "X"), help="mm (default: drawn per case)")
    p.add_argument("--oa-fraction", type=float, default=0.5, help="share of osteoarthritic patients (default 0.5)")
    p.add_argument(
        "--second-knee-fraction",
        type=float,
        default=0.25,
        help="share of patients with a second case (their other knee; default 0.25)",
    )
    p.add_argument("--both-legs", action="store_true", help="show both knees in each volume")
    p.add_argument("--format", choices=("nifti", "dicom"), default="nifti")
    p.add_argument("--variation", choices=("classic", "wide"), default="classic",
                   help="'wide': draw every variation axis of the phantom (scanners, FOV, positions, implants, long scans)")
    p.add_argument("--synthseg-fraction", type=float, default=0.0,
                   help="share of cases whose image is synthesised SynthSeg-style from the tissue map (default 0)")
    p.add_argument("--negative-fraction", type=float, default=0.0,
                   help="share of cases without a knee (thigh, calf, hip, ankle, torso, arm, table, air), labels all 0")
    p.set_defaults(func=cmd_synth)

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
    p.set_defaults(func=cmd_prepare)

    p = sub.add_parser("nnunet", help="plan, preprocess and train nnU-Net v2")
    _add_schedule(p)
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
    _add_compute(p)
    p.set_defaults(func=cmd_nnunet)

    p = sub.add_parser(
        "unet", help="train the custom 2D U-Net with a ResNet50V2 encoder on nnU-Net's preprocessed data"
    )
    _add_schedule(p)
    p.add_argument("--configuration", default="2d", help="nnU-Net configuration whose data it uses (default 2d)")
    p.add_argument("--small", action="store_true", help="a narrow, shallow encoder (tests, CPU)")
    p.add_argument(
        "--encoder-weights",
        type=Path,
        default=None,
        help="local .safetensors/.pth of timm's resnetv2_50 (e.g. ImageNet); nothing is downloaded",
    )
    _add_compute(p)
    p.set_defaults(func=cmd_unet)

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
    p.set_defaults(func=cmd_export)

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
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser("evaluate", help="compare model packages on a test set: per-case metrics, tables, plots")
    p.add_argument("--package", nargs="*", type=Path, default=[])
    p.add_argument("--nnunet-run", nargs="*", type=Path, default=[], help="also run nnU-Net's own predictor for a run")
    p.add_argument("--nnunet-folds", nargs="+", default=["best"])
    p.add_argument("--dataset-dir", type=Path, default=None, help="a prepared dataset folder (uses imagesTs/labelsTs)")
    p.add_argument("--workdir", type=Path, default=None)
    p.add_argument("--dataset", default=None)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--tta", action="store_true")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=cmd_evaluate)

    from trainer.commands import stress as stress_command

    stress_command.register(sub)

    p = sub.add_parser("env", help="print the nnU-Net environment of a work folder (to run nnU-Net's own commands)")
    p.add_argument("--workdir", type=Path, required=True)
    p.set_defaults(func=cmd_env)

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
    p.set_defaults(func=cmd_demo)
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
