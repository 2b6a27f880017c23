"""``kneeseg demo`` (and ``kneeseg`` alone): the README's run command.

Opens the window with the bundled demo case loaded and the default model selected.
Where no display exists it says so in one line and runs the headless demo instead:
demo CT (as DICOM) -> default model -> label map + metrics against the reference.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("demo", help="open the window on the bundled demo case (headless run without a display)")
    parser.add_argument("--headless", action="store_true", help="run the headless demo even if a display exists")
    parser.add_argument("--out", type=Path, default=None, help="where the headless demo writes its label map")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for inference")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not args.headless:
        from kneeseg_app.ui.display import display_available

        available, reason = display_available()
        if available:
            from kneeseg_app.ui.app import run_app

            return run_app([sys.argv[0]], open_demo=True)
        print(f"kneeseg: {reason}; running the headless demo instead.", file=sys.stderr)
    return run_headless_demo(out=args.out, threads=args.threads)


def run_headless_demo(out: Path | None = None, threads: int | None = None) -> int:
    """Segment the demo case with the default model and report metrics against its reference."""
    from kneeseg_app.commands.segment import ProgressLine, metrics_table
    from kneeseg_app.core.demo import demo_case
    from kneeseg_app.core.imageio import open_volume, read_label_map, write_label_map
    from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
    from kneeseg_app.core.metrics import compute_metrics
    from kneeseg_app.core.model.discovery import find_model

    progress = ProgressLine(sys.stderr)
    case = demo_case(progress=progress)
    progress.finish()
    print(f"Demo case: {case.description}")
    ct = open_volume(case.dicom_dir, progress=lambda s, f: progress("Reading CT", f))
    progress.finish()
    package = find_model(None)
    print(f"Model: {package.summary()}")
    result = Segmenter(package, SegmentOptions(threads=threads)).run(ct, progress=progress)
    progress.finish()
    target = out or Path(tempfile.gettempdir()) / "kneeseg-demo" / "demo_labels.nii.gz"
    write_label_map(result.labels, target, overwrite=True, protected=[case.dicom_dir])
    for bone, ml in result.volumes_ml.items():
        print(f"{bone:>8}: {ml:8.1f} mL")
    print(f"Segmented in {result.seconds:.1f} s; label map written to {target}")
    reference = read_label_map(case.reference_path, reference=ct)
    print(metrics_table(compute_metrics(result.labels.array, reference.array, ct.spacing_zyx, package.label_names)))
    return 0
