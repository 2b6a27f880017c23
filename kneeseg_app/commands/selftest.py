"""``kneeseg selftest``: prove an installation can segment here (decoders, model, demo case).

Engineers run it after copying KneeSeg onto a hospital PC (``KneeSeg --selftest`` or
``kneeseg-cli selftest`` in the bundle); CI runs it on every built bundle. Exit status 0
only when every check passed, 1 otherwise, so scripts can rely on it.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kneeseg_app import __version__

if TYPE_CHECKING:
    from kneeseg_app.core.selftest import CheckResult


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "selftest",
        help="check that this installation can decode DICOM and segment the demo case",
        description="Decode the shipped compressed DICOM samples, open the default model and segment the "
        "demo CT, comparing the result with its reference. Exits non-zero when anything fails.",
    )
    parser.add_argument("--model", default=None, help="model name or folder (default: the bundled default model)")
    parser.add_argument(
        "--min-dice",
        type=float,
        default=None,
        help="Dice each bone must reach on the demo case (default: the model manifest's validation Dice minus 0.05, else 0.9)",
    )
    parser.add_argument("--threads", type=int, default=None, help="CPU threads for inference")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return run_and_print(args)


def run_and_print(args: argparse.Namespace, extra_checks: Sequence[Callable[[], CheckResult]] = ()) -> int:
    """Run the self-test (plus the caller's ``extra_checks``), print every result; 0 only if all passed."""
    from kneeseg_app.core import paths
    from kneeseg_app.core.selftest import run_selftest

    frozen = "frozen" if getattr(sys, "frozen", False) else "source"
    print(
        f"KneeSeg {__version__} self-test ({frozen}, Python {platform.python_version()}, {platform.system()} {platform.machine()})"
    )
    print(f"resources: {paths.resources_dir()}", flush=True)
    report = run_selftest(model=args.model, min_dice=args.min_dice, threads=args.threads, extra_checks=extra_checks)
    for check in report.checks:
        print(f"[{'PASS' if check.ok else 'FAIL'}] {check.name:<9} {check.detail} ({check.seconds:.1f} s)")
        for line in check.lines:
            print(f"           {line}")
    verdict = "PASSED" if report.ok else f"FAILED ({', '.join(c.name for c in report.failures())})"
    print(f"Self-test {verdict} in {report.seconds:.1f} s")
    sys.stdout.flush()
    return 0 if report.ok else 1
