"""``kneeseg-train synth``: a synthetic knee CT dataset (phantoms) with a case table."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from trainer.commands import common


def register(sub: argparse._SubParsersAction) -> None:
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
    p.add_argument(
        "--variation",
        choices=("classic", "wide"),
        default="classic",
        help="'wide': draw every variation axis of the phantom (scanners, FOV, positions, implants, long scans)",
    )
    p.add_argument(
        "--synthseg-fraction",
        type=float,
        default=0.0,
        help="share of cases whose image is synthesised SynthSeg-style from the tissue map (default 0)",
    )
    p.add_argument(
        "--negative-fraction",
        type=float,
        default=0.0,
        help="share of cases without a knee (thigh, calf, hip, ankle, torso, arm, table, air, head, chest), labels all 0",
    )
    p.add_argument(
        "--negative-kinds",
        nargs="+",
        default=None,
        metavar="KIND",
        help="draw the negatives from these kinds only (default: all; the demo recipe leaves out the leg kinds)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
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
        **({"negative_kinds": tuple(args.negative_kinds)} if args.negative_kinds else {}),
    )
    table = synth_dataset(args.out, settings, common.printer())
    print(f"Wrote {args.cases} phantom cases; case table: {table}")
    return 0


def _triple(values: Sequence | None, kind: Callable) -> tuple | None:
    return None if values is None else tuple(kind(v) for v in values)
