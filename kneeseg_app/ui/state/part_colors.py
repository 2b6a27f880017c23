"""Colours of the bones per side: the bone's overlay colour, the left side a lighter shade.

One rule for the 3D surfaces, their legend and the bones table, so a 'left femur' row
has the colour of the left femur's surface.
"""

from __future__ import annotations

from kneeseg_app.core.sides import LEFT_CODE_OFFSET
from kneeseg_app.ui.state.overlay import RESULT_COLORS, color_for


def part_color(code: int) -> tuple[int, int, int]:
    """RGB of a part (a value of the per-side part map: label, or label + LEFT_CODE_OFFSET for the left)."""
    label, left = code % LEFT_CODE_OFFSET, code >= LEFT_CODE_OFFSET
    r, g, b = color_for(label or 1, RESULT_COLORS)
    if not left:
        return r, g, b
    return tuple(int(c + (255 - c) * 0.45) for c in (r, g, b))  # type: ignore[return-value]


def hex_color(code: int) -> str:
    return "#{:02x}{:02x}{:02x}".format(*part_color(code))
