"""Two evaluate.py results (same seed, two models) side by side as one Markdown table.

EVALUATION ONLY. Usage:

    .venv/bin/python benchmarks/independent_phantoms/compare.py results/seed7_A.json results/seed7_B.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.independent_phantoms.params import describe, draw_case  # noqa: E402


def _cell(row: dict | None, bone: str) -> str:
    if row is None:
        return "-"
    m = row["metrics"][bone]
    if m["dice"] is None:
        return "missing"
    return f"{m['dice']:.3f} / {m['hd95_mm']:.1f}"


def side_by_side(a: dict, b: dict) -> str:
    """Rows of ``a`` matched by case name with ``b``: Dice / HD95 per bone and seconds for both models."""
    rows_b = {r["case"]: r for r in b["rows"]}
    head = (
        f"A = `{a['model']}`, B = `{b['model']}`; cells are Dice / HD95 mm (two knees: the worse side)\n\n"
        "| case | variation | setting | femur A | femur B | tibia A | tibia B | s A | s B | checks A | checks B |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for ra in a["rows"]:
        rb = rows_b.get(ra["case"])
        setting = ra.get("setting") or describe(draw_case(a["seed"], int(ra["case"][4:])))
        seconds_b = f"{rb['seconds']:.0f}" if rb else "-"
        lines.append(
            f"| {ra['case']} | {ra['variation']} | {setting} | {_cell(ra, 'femur')} | {_cell(rb, 'femur')} | "
            f"{_cell(ra, 'tibia')} | {_cell(rb, 'tibia')} | {ra['seconds']:.0f} | {seconds_b} | "
            f"{ra['status']} | {rb['status'] if rb else '-'} |"
        )
    for name, result in (("A", a), ("B", b)):
        dice = [r["metrics"][bone]["dice"] or 0.0 for r in result["rows"] for bone in ("femur", "tibia")]
        if dice:
            lines.append(f"\n{name}: worst Dice {min(dice):.3f}, mean {sum(dice) / len(dice):.3f}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    print(side_by_side(json.loads(args.a.read_text()), json.loads(args.b.read_text())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
