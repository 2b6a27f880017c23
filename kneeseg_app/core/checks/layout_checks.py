"""Checks of how the bones lie together: one femur and one tibia per leg, femur above tibia, meeting at a joint.

Legs are named by the side decision the report, the window and the meshes use
(:mod:`kneeseg_app.core.sides`): with two knees the plane between them, with one knee
its side from the header or the fibula (the scanner's centre line only for DICOM, as a
last resort). So a check never says "left femur" while the window says "Knee: right".
"""

from __future__ import annotations

from dataclasses import dataclass

from kneeseg_app.core.checks.bone_checks import MIN_PIECE_ML, major_pieces
from kneeseg_app.core.checks.measure import BoneMeasure, ComponentMeasure
from kneeseg_app.core.checks.outcome import CheckResult, Status, worst
from kneeseg_app.core.labels import side_of_x
from kneeseg_app.core.sides import SideSplit

SAME_LEG_MM = 60.0
"""A femur and a tibia whose centres are further apart than this left-right are not one leg."""
SAME_BONE_MM = 40.0
"""Two big pieces of one bone closer than this left-right are one bone broken (a lost slab), not two legs:
two knees, even touching, lie further apart."""
JOINT_GAP_MM = {"warn": 20.0, "fail": 32.0}
"""Gap along the body axis between the femur's lowest and the tibia's highest point: a few mm in a
natural knee, up to about 20 mm of metal and polyethylene between the bones after a knee replacement."""


@dataclass(frozen=True)
class Leg:
    """A femur piece and the tibia piece paired with it (either may be missing)."""

    side: str
    femur: ComponentMeasure | None
    tibia: ComponentMeasure | None


@dataclass(frozen=True)
class LegSides:
    """The side decision of the rest of the app, as the checks need it to name legs."""

    midline_x: float | None = None
    """Two knees: LPS x of the plane between them (the larger x is the patient's left)."""
    single: str | None = None
    """One knee: its side, 'left' or 'right' (None: nothing tells)."""

    @classmethod
    def of(cls, split: SideSplit) -> LegSides:
        """The decision of :func:`kneeseg_app.core.sides.split_sides` (the report's 'Knee: right')."""
        return cls(split.midline_x, split.side)

    def names(self, pieces: list[ComponentMeasure]) -> list[str]:
        """'left' / 'right' / 'unknown' for each piece.

        Beside the midline of two knees; else the one knee's side, unless the checks see two
        legs clearly apart that the side split did not (then each is named by its position
        relative to the other, which needs no guess).
        """
        xs = [p.centroid_lps[0] for p in pieces]
        if self.midline_x is not None:
            return [side_of_x(x, self.midline_x) for x in xs]
        if len(pieces) == 2 and abs(xs[0] - xs[1]) > SAME_LEG_MM:
            return [side_of_x(x, (xs[0] + xs[1]) / 2.0) for x in xs]
        return [self.single or "unknown"] * len(pieces)


def leg_pieces(bone: BoneMeasure | None) -> tuple[list[ComponentMeasure], list[ComponentMeasure]]:
    """The bone's big pieces split into one per leg (largest first) and the rest: pieces of the same
    leg's bone, cut apart (left-right within :data:`SAME_BONE_MM` of a bigger piece)."""
    legs: list[ComponentMeasure] = []
    broken: list[ComponentMeasure] = []
    for piece in major_pieces(bone) if bone else []:
        same = any(abs(piece.centroid_lps[0] - kept.centroid_lps[0]) <= SAME_BONE_MM for kept in legs)
        (broken if same else legs).append(piece)
    return legs, broken


def _named(bones: list[BoneMeasure], name: str) -> BoneMeasure | None:
    return next((b for b in bones if b.name.lower() == name), None)


def pair_legs(bones: list[BoneMeasure], sides: LegSides = LegSides()) -> list[Leg]:
    """Pair each femur (one per leg) with the tibia nearest to it left-right; name each leg by ``sides``."""
    femurs = leg_pieces(_named(bones, "femur"))[0]
    tibias = leg_pieces(_named(bones, "tibia"))[0]
    legs: list[Leg] = []
    anchors = femurs if femurs else tibias
    for piece, side in zip(anchors, sides.names(anchors)):
        if femurs and tibias:
            mate = min(tibias, key=lambda t: abs(t.centroid_lps[0] - piece.centroid_lps[0]))
            if abs(mate.centroid_lps[0] - piece.centroid_lps[0]) <= SAME_LEG_MM:
                tibias.remove(mate)
                legs.append(Leg(side, piece, mate))
                continue
        legs.append(Leg(side, piece, None) if femurs else Leg(side, None, piece))
    legs += [Leg(s, None, t) for t, s in zip(tibias, sides.names(tibias))] if femurs else []
    return legs


def check_components(bones: list[BoneMeasure], sides: LegSides = LegSides()) -> CheckResult:
    """One femur and one tibia per leg, on the same side; loose fragments are flagged."""
    legs = pair_legs(bones, sides)
    problems: list[str] = []
    statuses: list[Status] = []
    slices: list[int] = []
    for have, lack in (("femur", "tibia"), ("tibia", "femur")):
        alone = [leg.side for leg in legs if getattr(leg, lack) is None and getattr(leg, have) is not None]
        if alone:
            statuses.append(Status.FAIL)
            problems.append(
                f"{_count(len(alone), have)} ({', '.join(alone)}) {'has' if len(alone) == 1 else 'have'} no {lack} next to {'it' if len(alone) == 1 else 'them'}"
            )
    if len(legs) > 2:
        statuses.append(Status.FAIL)
        problems.append(f"{len(legs)} separate legs were found, but a person has two")
    for bone in bones:
        broken = leg_pieces(bone)[1]
        if broken:
            statuses.append(Status.WARN)
            problems.append(f"the {bone.name} is cut into {len(broken) + 1} big pieces")
            slices += [s for p in broken for s in (p.slices[0], p.slices[1])]
        majors = {id(p) for p in major_pieces(bone)}
        fragments = [p for p in bone.components if id(p) not in majors and p.volume_ml >= MIN_PIECE_ML]
        if fragments:
            statuses.append(Status.WARN)
            total = sum(p.volume_ml for p in fragments)
            problems.append(
                f"{len(fragments)} loose piece(s) of {bone.name} ({total:.1f} mL) lie apart from the main bone"
            )
            slices += [s for p in fragments for s in range(p.slices[0], p.slices[1] + 1)]
    details = {
        "legs": [_leg_dict(leg) for leg in legs],
        "pieces": {b.name: [round(p.volume_ml, 2) for p in b.components[:20]] for b in bones},
    }
    status = worst(statuses)
    if status is Status.PASS:
        where = ", ".join(leg.side for leg in legs) or "no"
        message = f"One femur and one tibia per leg ({len(legs)} leg{'s' if len(legs) != 1 else ''}: {where})."
    else:
        message = f"The bones do not form whole legs: {'; '.join(problems)}."
    return CheckResult("components", "Pieces and sides", status, message, tuple(sorted(set(slices))), details)


def _count(n: int, bone: str) -> str:
    return f"a {bone}" if n == 1 else f"{n} {bone} pieces"


def _leg_dict(leg: Leg) -> dict[str, object]:
    return {
        "side": leg.side,
        "femur_ml": round(leg.femur.volume_ml, 1) if leg.femur else None,
        "tibia_ml": round(leg.tibia.volume_ml, 1) if leg.tibia else None,
    }


def check_joint(bones: list[BoneMeasure], sides: LegSides = LegSides()) -> CheckResult:
    """The femur lies above the tibia (superior in LPS) and the two meet at the knee joint."""
    legs = [leg for leg in pair_legs(bones, sides) if leg.femur is not None and leg.tibia is not None]
    if not legs:
        return CheckResult(
            "joint",
            "Femur above tibia",
            Status.FAIL,
            "No femur and tibia of one leg were found, so there is no knee joint to check.",
        )
    statuses, problems, details, slices = [], [], [], []
    for leg in legs:
        status, problem, numbers = _one_joint(leg.femur, leg.tibia)  # type: ignore[arg-type]
        statuses.append(status)
        details.append({"side": leg.side, **numbers})
        if problem:
            problems.append(problem if len(legs) == 1 else f"{leg.side} leg: {problem}")
            slices += [leg.femur.slices[0], leg.femur.slices[1], leg.tibia.slices[0], leg.tibia.slices[1]]  # type: ignore[union-attr]
    status = worst(statuses)
    message = (
        "The femur lies above the tibia and they meet at the knee joint."
        if status is Status.PASS
        else f"{'; '.join(problems)}."
    )
    return CheckResult(
        "joint",
        "Femur above tibia",
        status,
        message[0].upper() + message[1:],
        tuple(sorted(set(slices))),
        {"legs": details},
    )


def _one_joint(femur: ComponentMeasure, tibia: ComponentMeasure) -> tuple[Status, str, dict[str, float]]:
    f_low, f_high = femur.superior_range_mm
    t_low, t_high = tibia.superior_range_mm
    f_centre, t_centre = femur.centroid_lps[2], tibia.centroid_lps[2]
    gap = f_low - t_high
    numbers = {
        "femur_centre_s_mm": round(f_centre, 1),
        "tibia_centre_s_mm": round(t_centre, 1),
        "joint_gap_mm": round(gap, 1),
    }
    if f_centre <= t_centre:
        return (
            Status.FAIL,
            "the bone labelled femur lies below the one labelled tibia (labels swapped or not a knee)",
            numbers,
        )
    if t_high >= f_centre or f_low <= t_centre:
        return Status.FAIL, "femur and tibia lie side by side rather than one above the other, unlike a knee", numbers
    if gap > JOINT_GAP_MM["fail"]:
        return Status.FAIL, f"femur and tibia are {gap:.0f} mm apart, so they do not meet at a joint", numbers
    if gap > JOINT_GAP_MM["warn"]:
        return Status.WARN, f"femur and tibia are {gap:.0f} mm apart, a wide joint space", numbers
    return Status.PASS, "", numbers
