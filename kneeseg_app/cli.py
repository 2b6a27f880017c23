"""``kneeseg`` command line: headless sub-commands, or the window when given none.

Every sub-command lives in its own module under :mod:`kneeseg_app.commands` with
``register(subparsers)``; they are listed here explicitly (no folder walking, so
PyInstaller sees them). Importing this module loads neither Qt nor torch.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from kneeseg_app import __version__
from kneeseg_app.commands import demo, info, models, plan, segment, selftest
from kneeseg_app.core.errors import KneeSegError

COMMANDS = (info, segment, models, plan, demo, selftest)

log = logging.getLogger("kneeseg")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kneeseg",
        description="Femur and tibia segmentation in knee CT (research software, not for clinical use).",
    )
    parser.add_argument("--version", action="version", version=f"KneeSeg {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show debug messages")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: returns the process exit status (0 ok, 2 bad input, 70 internal error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    if args.command is None:
        args = parser.parse_args(["demo", *(argv or [])])
    try:
        return int(args.func(args) or 0)
    except KneeSegError as exc:
        print(f"kneeseg: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("kneeseg: interrupted.", file=sys.stderr)
        return 130
    except Exception as exc:  # last line of defence: one line, never a traceback
        log.debug("internal error", exc_info=True)
        print(f"kneeseg: internal error ({type(exc).__name__}: {exc}); run with -v for details.", file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
