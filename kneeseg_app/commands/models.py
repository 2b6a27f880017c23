"""``kneeseg models``: the models KneeSeg can use, what they are, and the ones it cannot use (why)."""

from __future__ import annotations

import argparse

from kneeseg_app.core.errors import ModelError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "models",
        help="list the installed segmentation models",
        description="List the bundled and per-user model packages with their manifest facts, "
        "and the packages that cannot be used with the reason.",
    )
    parser.add_argument("--dir", action="append", default=[], metavar="FOLDER", help="also look in FOLDER (repeatable)")
    parser.add_argument("--check", action="store_true", help="also verify checksums and open every network (slower)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from kneeseg_app.core import paths
    from kneeseg_app.core.model.discovery import default_model, discover_models

    found = discover_models(args.dir)
    default = default_model(found) if found.models else None  # what `kneeseg segment` would use
    failed = 0
    if not found.models:
        print(f"No usable model found (looked in {paths.bundled_models_dir()} and {paths.user_models_dir()}).")
    for model in found.models:
        summary = model.summary()
        if model is default and "[default]" not in summary.splitlines()[0]:
            summary = summary.replace("\n", "  [default]\n", 1)
        print(summary)
        if args.check:
            try:
                model.open_networks(threads=1)
                print("  check       OK (checksums match, networks open)")
            except ModelError as exc:
                failed += 1
                print(f"  check       FAILED: {exc}")
        print()
    if found.rejected:
        print("Cannot be used:")
        for path, reason in found.rejected:
            print(f"  {path}: {reason}")
    return 0 if found.models and not failed else 1
