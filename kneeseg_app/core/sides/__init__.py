"""Left and right: which knee is which, and every bone per side (LPS: +x is the patient's left).

* :mod:`.knees`: two knees told apart by position (the planning's regions, the midline);
* :mod:`.single`: a single knee's side from the header or its fibula (:mod:`.fibula`);
* :mod:`.parts`: the per-side split every output uses (volumes, metrics, meshes, reports).
"""

from kneeseg_app.core.sides.fibula import fibula_side
from kneeseg_app.core.sides.knees import KneeRegion, knee_midline, split_knees
from kneeseg_app.core.sides.parts import LEFT_CODE_OFFSET, BonePart, SideSplit, side_decision, split_sides
from kneeseg_app.core.sides.single import SideDecision, side_from_header, side_in_text, single_knee_side

__all__ = [
    "LEFT_CODE_OFFSET",
    "BonePart",
    "KneeRegion",
    "SideDecision",
    "SideSplit",
    "fibula_side",
    "knee_midline",
    "side_decision",
    "side_from_header",
    "side_in_text",
    "single_knee_side",
    "split_knees",
    "split_sides",
]
