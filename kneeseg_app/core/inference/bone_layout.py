"""Post-processing by anatomy: which pieces are femur and tibia, decided from the CT and the pose.

The largest-component rule trusts size alone, so a large false "femur" on the table or
along the image border wins over the real femur, and bands of slices with swapped labels
near the joint are cut out of the condyles and the plateau. Here every piece of bone the
network found (femur and tibia together, 26-connected) is judged by what a bone is, after
voxels at metal density (:data:`METAL_HU`: implants) lose their label:

* dense: its mean CT number is at least :data:`MIN_BONE_HU` (air, table foam and soft
  tissue are not);
* inside the body: most of it lies in the patient's outline (tissue above
  :data:`~kneeseg_app.core.inference.fast.roi.BODY_HU`, opened so the table's thin shell and straps fall away, holes filled,
  the large outlines of each slice only), so nothing on the table or in the air survives;
* large: at least :data:`MINOR_FRACTION` of the largest such piece (stray islands go).

The remaining pieces are grouped into legs by their patient left/right position (LPS x,
through the volume's direction, so any scan orientation works). In each leg the pieces
are ordered from superior to inferior and relabelled as a whole: those above the joint
femur, those below tibia, the joint chosen where it disagrees least with the network's
labels. A band of slices the network gave the other bone's label therefore returns to the
bone it belongs to instead of being cut away. A leg whose femur and tibia touch (a closed
joint) is first split where an erosion of a few millimetres separates them; if nothing
separates them the network's labels are kept. Once a leg has passed the knee-joint test, a flexed
knee's condyle sections the network called tibia return to the femur (``flexed_condyles``), and a leg
whose bone was all called one bone is parted at that knee's joint level (``joint_level``); a sliver of the
other leg that the field of view cut lengthwise, too small for a leg of its own, keeps its bone, femur above
that level and tibia below (``other_leg``). Last, bone the network stopped short of is labelled: out to
where the field of view cuts it (``cut_bone``), a condyle's partial-volume last slab on thick slices
(``condyle_bottom``), a dense band beside a bone that the slices beside it label (an obliquely cut
sclerotic surface, ``bone_fringe``), and the cavities a bone's label encloses.
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from kneeseg_app.core.inference.bone_fringe import fill_bone_fringes
from kneeseg_app.core.inference.condyle_bottom import fill_condyle_bottoms
from kneeseg_app.core.inference.cut_bone import fill_cut_bone
from kneeseg_app.core.inference.densities import METAL_HU
from kneeseg_app.core.inference.fast.roi import body_grid, body_mask_2d
from kneeseg_app.core.inference.femoral_head import trim_acetabulum
from kneeseg_app.core.inference.flexed_condyles import return_condyles
from kneeseg_app.core.inference.hip_socket import judge_socket
from kneeseg_app.core.inference.joint_level import joint_level, part_at_level
from kneeseg_app.core.inference.joint_slices import joint_split, swapped_slices
from kneeseg_app.core.inference.knee_joint import KneeJoint, leg_joint, superior_axis
from kneeseg_app.core.inference.label_islands import relabel_islands
from kneeseg_app.core.inference.other_leg import label_other_leg
from kneeseg_app.core.inference.piece_sums import index_sums
from kneeseg_app.core.inference.postprocess import fill_enclosed, keep_largest_component, label_bbox
from kneeseg_app.core.inference.talus import trim_talus
from kneeseg_app.core.inference.threads import map_in
from kneeseg_app.core.inference.two_legs import LEG_GAP_MM, split_across_legs
from kneeseg_app.core.progress import CancelToken
from kneeseg_app.core.volume import Volume

MIN_BONE_HU = 100.0
"""A piece of femur or tibia (cortex, cancellous bone and marrow together) is denser than this."""
MIN_INSIDE_BODY = 0.5
"""A piece with less than this fraction of its voxels inside the body is not bone of the patient."""
MINOR_FRACTION = 0.1
"""Pieces smaller than this fraction of the largest bone piece are dropped (patella, fibula, islands)."""
MINOR_LEG_FRACTION = 0.25
"""A group of pieces with less bone than this fraction of the largest leg's is no leg (a calibration
phantom's rods, a cast, a dense object beside the knee); a leg cut by the field of view that small
goes too, as with the largest-component rule."""
SPLIT_EROSION_MM = 4.0
"""How deep an erosion may go to separate a femur and tibia that touch."""
MIXED_FRACTION = 0.1
"""A piece holds both bones when the smaller label has at least this share of it."""
SAME_BONE_FRACTION = 0.25
"""In one leg, a part given the same bone as a larger part is kept when at least this fraction of it
(a fibula or patella the network called tibia or femur is smaller and goes)."""
_FULL = ndimage.generate_binary_structure(3, 3)
_CROSS = ndimage.generate_binary_structure(3, 1)


@dataclass(frozen=True)
class Piece:
    """One connected piece of bone labels and what decides its fate."""

    index: int
    voxels: int
    mean_hu: float
    inside_body: float
    centre_lps: tuple[float, float, float]
    femur_voxels: int


def measure_pieces(
    ct: Volume, labels: np.ndarray, box: tuple[slice, ...], femur: int, tibia: int
) -> tuple[np.ndarray, list[Piece]]:
    """Label the bone pieces inside ``box`` and measure density, body share and position. A piece that holds
    both legs' bones (two femurs joined through a pelvis labelled femur) is cut between the legs first."""
    region = labels[box]
    pieces, count = ndimage.label((region == femur) | (region == tibia), structure=_FULL)
    if count == 0:
        return pieces, []
    count = split_across_legs(pieces, count, ct, box)
    bone = pieces > 0
    where = np.flatnonzero(bone)
    ids = pieces[bone]
    hu = np.asarray(ct.array[box])[bone].astype(np.float32)  # the bone voxels only, in the order of ``where``
    voxels = np.bincount(ids, minlength=count + 1)
    hu_sum = np.bincount(ids, weights=hu, minlength=count + 1)
    femur_voxels = np.bincount(ids, weights=region[bone] == femur, minlength=count + 1)
    inside = np.bincount(ids, weights=_inside_body(ct, box, bone)[bone], minlength=count + 1)
    starts = np.array([s.start for s in box], dtype=np.float64)
    sums = index_sums(where, ids, pieces.shape, count) + starts * voxels[:, None]  # integers: exact
    centres = sums / np.maximum(voxels, 1)[:, None]
    lps = ct.index_to_lps(centres)
    return pieces, [
        Piece(
            i,
            int(voxels[i]),
            float(hu_sum[i] / voxels[i]),
            float(inside[i] / voxels[i]),
            tuple(lps[i]),
            int(femur_voxels[i]),
        )
        for i in range(1, count + 1)
    ]


def _inside_body(ct: Volume, box: tuple[slice, ...], bone: np.ndarray) -> np.ndarray:
    """Which bone voxels of ``box`` lie inside the body outline of their slice (whole-slice outline)."""
    step, opening = body_grid(ct.spacing_zyx[1:])
    out = np.zeros(bone.shape, dtype=bool)
    ys = np.arange(box[1].start, box[1].stop) // step
    xs = np.arange(box[2].start, box[2].stop) // step
    for k, z in enumerate(range(box[0].start, box[0].stop)):
        if bone[k].any():
            body = body_mask_2d(ct.array[z], step, opening)
            out[k] = body[np.ix_(ys, xs)] & bone[k]
    return out


def group_legs(pieces: list[Piece]) -> list[list[Piece]]:
    """Pieces grouped by their patient left/right centre (gaps wider than :data:`LEG_GAP_MM`, two_legs.py)."""
    ordered = sorted(pieces, key=lambda p: p.centre_lps[0])
    legs: list[list[Piece]] = []
    for piece in ordered:
        if legs and piece.centre_lps[0] - legs[-1][-1].centre_lps[0] <= LEG_GAP_MM:
            legs[-1].append(piece)
        else:
            legs.append([piece])
    return legs


def stacked_bones(parts: list[_Part]) -> tuple[int, int] | None:
    """Indices (upper, lower) of a leg's two largest parts when they must be femur and tibia: both
    large, one above the other, and the network called both bones somewhere in the leg; else None."""
    if len(parts) < 2:
        return None
    femur, tibia = sum(p.femur for p in parts), sum(p.tibia for p in parts)
    if min(femur, tibia) < MIXED_FRACTION * (femur + tibia):
        return None  # one bone only (a thigh or a calf): nothing to force
    first, second = sorted(range(len(parts)), key=lambda i: -parts[i].size)[:2]
    if parts[second].size < SAME_BONE_FRACTION * parts[first].size:
        return None
    return (min(first, second), max(first, second))


def split_touching(mask: np.ndarray, spacing_zyx: tuple[float, float, float]) -> np.ndarray | None:
    """Parts of one piece where a shallow erosion separates it (femur and tibia touching), or None.

    Each voxel joins the nearest eroded core, so the parts cover the piece exactly. The erosion goes
    equally deep in millimetres along every axis: an axis is eroded one voxel whenever the depth reached
    in-plane covers its spacing, so 3-10 mm slices are not eroded away a slice per in-plane pixel.
    """
    unit = min(spacing_zyx)
    steps = max(1, int(round(SPLIT_EROSION_MM / unit)))
    core = mask
    eroded_mm = [0.0, 0.0, 0.0]
    for step in range(1, steps + 1):
        axes = [a for a in range(3) if eroded_mm[a] + spacing_zyx[a] <= step * unit + 1e-6]
        for a in axes:
            eroded_mm[a] += spacing_zyx[a]
        core = ndimage.binary_erosion(core, structure=_axis_cross(tuple(axes)))
        cores, count = ndimage.label(core, structure=_FULL)
        if count < 2:
            continue
        sizes = np.bincount(cores.ravel())
        sizes[0] = 0
        big = np.flatnonzero(sizes >= MIXED_FRACTION * sizes.max())
        if len(big) < 2:
            continue
        return grow_within(np.where(np.isin(cores, big), cores, 0).astype(np.int32), mask, step + 2)
    return None


def _axis_cross(axes: tuple[int, ...]) -> np.ndarray:
    """A 3x3x3 structuring element reaching one voxel along ``axes`` only."""
    structure = np.zeros((3, 3, 3), dtype=bool)
    structure[1, 1, 1] = True
    for a in axes:
        index = [1, 1, 1]
        for end in (0, 2):
            index[a] = end
            structure[tuple(index)] = True
    return structure


def drop_metal(region: np.ndarray, hu: np.ndarray, bones: tuple[int, ...]) -> dict[int, int]:
    """Unlabel bone voxels at metal density (a knee replacement's components, a nail, screws), in place;
    returns the voxels dropped per bone."""
    metal = hu >= METAL_HU
    dropped = {}
    for bone in bones:
        hit = metal & (region == bone)
        dropped[bone] = int(np.count_nonzero(hit))
        region[hit] = 0
    return dropped


def grow_within(seeds: np.ndarray, mask: np.ndarray, layers: int) -> np.ndarray:
    """Seeds grown ``layers`` voxel layers inside ``mask``; what they do not reach (parts thinner
    than the erosion, away from the cores) becomes parts of its own, numbered after the seeds.

    Each voxel joins the seed that reaches it first: a geodesic split, far cheaper than a
    nearest-seed distance transform of the whole box."""
    parts = np.where(mask, seeds, 0)
    for _ in range(layers):
        todo = mask & (parts == 0)
        if not todo.any():
            return parts
        parts = np.where(todo, ndimage.grey_dilation(parts, footprint=_CROSS), parts)
    rest, count = ndimage.label(mask & (parts == 0), structure=_FULL)
    if count:
        parts[rest > 0] = rest[rest > 0] + parts.max()
    return parts


@dataclass(frozen=True)
class LayoutResult:
    """What the anatomy rule changed: voxels dropped per label, voxels moved to the other bone, legs."""

    removed: dict[int, int]
    relabelled: int
    legs: int
    joints: tuple[KneeJoint, ...] = ()
    """The knee-joint test of each leg (core/inference/knee_joint.py)."""
    cut_filled: dict[int, int] = field(default_factory=dict)
    """Voxels added per bone where the field of view cuts it (core/inference/cut_bone.py), under a femoral
    condyle's last labelled section (its partial-volume slab: core/inference/condyle_bottom.py), beside it
    where its neighbouring slices cover a dense band (an obliquely cut sclerotic surface:
    core/inference/bone_fringe.py) and inside it (cavities the bone's label encloses:
    postprocess.fill_enclosed)."""
    ends_trimmed: dict[int, int] = field(default_factory=dict)
    """Voxels taken off the far ends of a long scan's bones per bone: the acetabulum and pelvis off a femur
    that reaches its head (core/inference/femoral_head.py), the talus off a tibia that reaches its plafond
    (core/inference/talus.py)."""

    @property
    def no_knee(self) -> str:
        """Why every label was discarded ('' when a leg had a knee joint, or nothing was found)."""
        if not self.joints or any(j.is_knee for j in self.joints):
            return ""
        return self.joints[0].reason

    @property
    def firm_no_knee(self) -> bool:
        """No leg has a knee joint, for reasons that hold on a sampled scan too (``KneeJoint.firm``)."""
        return bool(self.no_knee) and all(j.firm for j in self.joints)


@dataclass
class _Part:
    """Part ``index`` of the part map ``ids`` (a piece's box), where it lies and what it was called."""

    box: tuple[slice, ...]
    ids: np.ndarray
    index: int
    superior_mm: float
    femur: int
    tibia: int

    @property
    def size(self) -> int:
        return self.femur + self.tibia

    @property
    def mask(self) -> np.ndarray:
        return self.ids == self.index


def apply_bone_layout(
    labels: np.ndarray,
    ct: Volume,
    femur: int,
    tibia: int,
    cancel: CancelToken | None = None,
    pool: Executor | None = None,
) -> LayoutResult:
    """Keep the dense pieces inside the body and label them femur or tibia by leg and joint, in place.

    With a ``pool``, the legs are decided and the slices searched for cut bone in its threads (the same
    labels: each leg and each slice is worked on alone)."""
    boxes = [b for b in (label_bbox(labels, femur), label_bbox(labels, tibia)) if b is not None]
    if not boxes:
        return LayoutResult({femur: 0, tibia: 0}, 0, 0)
    box = tuple(slice(min(b[a].start for b in boxes), max(b[a].stop for b in boxes)) for a in range(3))
    region = labels[box]
    metal = drop_metal(region, ct.array[box], (femur, tibia))
    pieces_map, pieces = measure_pieces(ct, labels, box, femur, tibia)
    if cancel is not None:
        cancel.raise_if_cancelled()
    bone = [p for p in pieces if p.mean_hu >= MIN_BONE_HU and p.inside_body >= MIN_INSIDE_BODY]
    largest = max((p.voxels for p in bone), default=0)
    major = [p for p in bone if p.voxels >= MINOR_FRACTION * largest]
    decided = np.zeros(region.shape, dtype=np.uint8)
    extents = ndimage.find_objects(pieces_map)
    legs = group_legs(major)
    biggest = max((sum(p.voxels for p in leg) for leg in legs), default=0)
    legs = [leg for leg in legs if sum(p.voxels for p in leg) >= MINOR_LEG_FRACTION * biggest]
    decisions = map_in(pool, lambda leg: _decide_leg(leg, extents, pieces_map, region, box, ct, (femur, tibia)), legs)
    joints = tuple(
        map_in(
            pool,
            lambda out: judge_socket(leg_joint(out, box, ct, femur, tibia), out, region, box, ct, femur),
            decisions,
        )
    )
    if any(joint.is_knee for joint in joints):
        level = _refine_legs(decisions, joints, ct, femur, tibia)
        for out in decisions:
            decided |= out
        if level is not None:
            others = _pieces_beside(bone, legs)
            label_other_leg(decided, pieces_map, extents, others, box, ct, level, (femur, tibia))
    was_bone = (region == femur) | (region == tibia)
    removed = {
        label: metal[label] + int(np.count_nonzero((region == label) & (decided == 0))) for label in (femur, tibia)
    }
    relabelled = int(np.count_nonzero(was_bone & (decided > 0) & (decided != region)))
    region[was_bone] = decided[was_bone]
    if not any(j.is_knee for j in joints):
        return LayoutResult(removed, relabelled, len(legs), joints)
    ends = {femur: trim_acetabulum(labels, ct, femur), tibia: trim_talus(labels, ct, tibia)}
    for bone, count in ends.items():
        removed[bone] += count
    cut = fill_cut_bone(labels, ct, (femur, tibia), pool)
    cut[femur] += fill_condyle_bottoms(labels, ct, femur)
    for bone, count in fill_bone_fringes(labels, ct, femur, tibia).items():
        cut[bone] += count
    for bone in (femur, tibia):
        cut[bone] += fill_enclosed(labels, bone)
    return LayoutResult(removed, relabelled, len(legs), joints, cut, ends)


def _refine_legs(
    decisions: list[np.ndarray], joints: tuple[KneeJoint, ...], ct: Volume, femur: int, tibia: int
) -> float | None:
    """After the knee-joint test (it judges the network's bones, not these refinements), in place: a one-bone
    leg beside a knee is parted at the knee's joint level (``joint_level``), and a flexed knee's condyle
    sections called tibia return to the femur (``flexed_condyles``). Returns the joint level (an index along
    the body axis of the box, superior first; None when no knee shows both bones)."""
    axis, sign = superior_axis(ct.direction)
    views = [np.moveaxis(out, axis, 0)[:: -int(sign)] for out in decisions]  # superior first, writable
    knees = [joint_level(view, femur, tibia) for view, joint in zip(views, joints) if joint.is_knee]
    levels = [lv for lv in knees if lv is not None]
    level = float(np.mean(levels)) if levels else None
    for view, joint in zip(views, joints):
        if level is not None and not joint.is_knee:
            part_at_level(view, level, ct.spacing_zyx[axis], femur, tibia)
        return_condyles(view, ct.spacing_zyx[axis], femur, tibia)
    return level


def _pieces_beside(bone: list[Piece], legs: list[list[Piece]]) -> list[int]:
    """Ids of the dense pieces in no kept leg that lie farther left or right than :data:`LEG_GAP_MM` from
    every piece of the kept legs (a leg of their own: ``other_leg`` looks at them)."""
    kept = [p for leg in legs for p in leg]
    ids = {p.index for p in kept}
    return [
        p.index
        for p in bone
        if p.index not in ids and all(abs(p.centre_lps[0] - q.centre_lps[0]) > LEG_GAP_MM for q in kept)
    ]


def _decide_leg(
    leg: list[Piece],
    extents: list[tuple[slice, ...] | None],
    pieces_map: np.ndarray,
    region: np.ndarray,
    box: tuple[slice, ...],
    ct: Volume,
    bones: tuple[int, int],
) -> np.ndarray:
    """One leg's femur and tibia: whole parts by the joint, or whole slices when the bones cannot be parted;
    then islands of one bone's label inside the other become the other (``label_islands``), and each bone
    keeps its large components only."""
    femur, tibia = bones
    out = np.zeros(region.shape, dtype=np.uint8)
    parts = [part for piece in leg for part in _parts_of(piece, extents, pieces_map, region, box, ct, femur)]
    parts.sort(key=lambda part: -part.superior_mm)
    joint = _joint_part(parts)
    if len(parts) == 1 and min(parts[0].femur, parts[0].tibia) >= MIXED_FRACTION * parts[0].size:
        _fix_swapped_slices(parts[0], region, out, ct, femur, tibia)
    elif joint is not None:
        others = [part for part in parts if part is not joint]
        _write_parts(out, others, [femur if part.superior_mm > joint.superior_mm else tibia for part in others])
        _fix_swapped_slices(joint, region, out, ct, femur, tibia)  # after: the parts share one map
    else:
        between = stacked_bones(parts)
        k = joint_split(np.array([p.femur for p in parts]), np.array([p.tibia for p in parts]), between)
        _write_parts(out, parts, [femur if i < k else tibia for i in range(len(parts))])
    axis = superior_axis(ct.direction)[0]
    relabel_islands(out, tibia, femur, axis, SAME_BONE_FRACTION)
    relabel_islands(out, femur, tibia, axis, SAME_BONE_FRACTION)
    for bone in bones:
        keep_largest_component(out, bone, SAME_BONE_FRACTION)
    return out


def _joint_part(parts: list[_Part]) -> _Part | None:
    """The part that still holds the knee joint after a split elsewhere, or None: the part with the
    most of the femur's labels and the most of the tibia's (each at least :data:`MIXED_FRACTION` of it).

    The erosion of :func:`split_touching` may part a long scan's femur at its thin mid-shaft (or the
    foot off the tibia) and leave the closed knee whole: giving that part one bone as a whole made a
    hip-to-ankle scan's distal femur "tibia" and the scan "no knee". A femur part with a band called
    tibia (the neck at the hip) holds less tibia than the tibia's own part, and is still given one bone."""
    if len(parts) < 2:
        return None
    most_femur = max(parts, key=lambda p: p.femur)
    most_tibia = max(parts, key=lambda p: p.tibia)
    if most_femur is not most_tibia or min(most_femur.femur, most_femur.tibia) < MIXED_FRACTION * most_femur.size:
        return None
    return most_femur


def _parts_of(
    piece: Piece,
    extents: list[tuple[slice, ...] | None],
    pieces_map: np.ndarray,
    region: np.ndarray,
    box: tuple[slice, ...],
    ct: Volume,
    femur: int,
) -> list[_Part]:
    """The piece itself, or its parts when it holds both bones and an erosion separates them
    (statistics of all parts at once: a split may leave many small leftover parts)."""
    local = extents[piece.index - 1]
    assert local is not None
    mask = pieces_map[local] == piece.index
    femur_share = piece.femur_voxels / piece.voxels
    split = split_touching(mask, ct.spacing_zyx) if MIXED_FRACTION <= femur_share <= 1 - MIXED_FRACTION else None
    ids = mask.astype(np.int32) if split is None else split
    flat = ids.ravel()
    where = np.flatnonzero(flat)
    pid = flat[where]
    n = int(pid.max())
    count = np.bincount(pid, minlength=n + 1)
    femurs = np.bincount(pid, weights=region[local].ravel()[where] == femur, minlength=n + 1)
    offset = np.array([b.start + s.start for b, s in zip(box, local)], dtype=np.float64)
    centres = index_sums(where, pid, ids.shape, n) + offset * count[:, None]  # integers: exact
    superior = ct.index_to_lps(centres / np.maximum(count, 1)[:, None])[:, 2]
    return [
        _Part(local, ids, i, float(superior[i]), int(femurs[i]), int(count[i] - femurs[i]))
        for i in range(1, n + 1)
        if count[i]
    ]


def _write_parts(out: np.ndarray, parts: list[_Part], bones: list[int]) -> None:
    """Write each part's bone into ``out`` (one lookup per piece box, however many parts it has)."""
    by_map: dict[int, tuple[_Part, np.ndarray]] = {}
    for part, bone in zip(parts, bones):
        first, lut = by_map.setdefault(id(part.ids), (part, np.zeros(int(part.ids.max()) + 1, dtype=np.uint8)))
        lut[part.index] = bone
    for first, lut in by_map.values():
        inside = first.ids > 0
        out[first.box][inside] = lut[first.ids[inside]]


def _fix_swapped_slices(
    part: _Part, region: np.ndarray, decided: np.ndarray, ct: Volume, femur: int, tibia: int
) -> None:
    """Keep the network's labels of a piece holding both bones, except whole slices on the wrong side."""
    axis, sign = superior_axis(ct.direction)
    labels = np.where(part.mask, region[part.box], 0)
    out = decided[part.box]
    view = np.moveaxis(labels, axis, 0)[:: int(sign)]
    target = np.moveaxis(out, axis, 0)[:: int(sign)]
    mask = np.moveaxis(part.mask, axis, 0)[:: int(sign)]
    f = (view == femur).sum(axis=(1, 2))
    t = (view == tibia).sum(axis=(1, 2))
    to_femur, to_tibia = swapped_slices(f, t, ct.spacing_zyx[axis])
    fixed = view.copy()
    fixed[to_femur] = np.where(mask[to_femur], femur, 0)
    fixed[to_tibia] = np.where(mask[to_tibia], tibia, 0)
    target[mask] = fixed[mask]
