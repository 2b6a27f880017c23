"""Write independent knee-CT phantom cases to disk: DICOM series + NIfTI labels (+ PNG previews).

EVALUATION ONLY -- never used for training. Usage (from the repository root):

    .venv/bin/python benchmarks/independent_phantoms/generate.py --cases 10 --seed 7 --out /tmp/ind --preview
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run as a script from anywhere

from benchmarks.independent_phantoms.dicom_out import write_case  # noqa: E402
from benchmarks.independent_phantoms.params import Case, draw_case  # noqa: E402


def ensure_case(case: Case, root: Path) -> tuple[Path, Path, float]:
    """The case's DICOM folder and label map under ``root``, generated unless already there (same case)."""
    folder = root / case.name
    stored = folder / "case.json"
    if stored.exists() and json.loads(stored.read_text()) == json.loads(json.dumps(asdict(case))):
        return folder / "dicom", folder / "labels.nii.gz", 0.0
    start = time.perf_counter()
    dicom_dir, labels = write_case(case, folder)
    return dicom_dir, labels, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--first", type=int, default=0, help="index of the first case (recipe = index %% 10)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--preview", action="store_true", help="also write a PNG montage per case")
    args = parser.parse_args(argv)
    for index in range(args.first, args.first + args.cases):
        case = draw_case(args.seed, index)
        dicom_dir, labels, seconds = ensure_case(case, args.out)
        print(f"{case.name}: {case.variation} -> {dicom_dir} ({seconds:.0f} s)", flush=True)
        if args.preview:
            from benchmarks.independent_phantoms.preview import write_montage

            write_montage(case, args.out / f"{case.name}.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
