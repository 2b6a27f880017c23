"""The ends of a bone's pieces along the body axis: where the far-end trims look (femoral_head.py, talus.py).

Each 26-connected piece of one bone's label is handled alone (two legs: two femurs, two heads), in
a box around its superior or inferior end, so a 1,200 mm scan is never processed whole.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import ndimage

from kneeseg_app.core.inference.two_legs import split_across_legs
from kneeseg_app.core.volume import Volume

Box = tuple[slice, ...]


def end_box(
    found: Box,
    shape: tuple[int, ...],
    spacing_zyx: tuple[float, float, float],
    axis: int,
    toward_index_end: bool,
    reach_mm: float,
    margin_mm: float = 0.0,
) -> Box:
    """The part of a piece's box ``found`` within ``reach_mm`` of its end along ``axis`` (the end at the
    high indices when ``toward_index_end``), widened in-plane by ``margin_mm`` within the scan's ``shape``."""
    along = found[axis]
    reach = int(round(reach_mm / spacing_zyx[axis]))
    if toward_index_end:
        span = slice(max(along.stop - reach, along.start), along.stop)
    else:
        span = slice(along.start, min(along.start + reach, along.stop))
    box = []
    for a, s in enumerate(found):
        if a == axis:
            box.append(span)
        else:
            m = int(round(margin_mm / spacing_zyx[a]))
            box.append(slice(max(s.start - m, 0), min(s.stop + m, shape[a])))
    return tuple(box)


def length_mm(found: Box, spacing_zyx: tuple[float, float, float], axis: int) -> float:
    """How far a piece's box reaches along ``axis``, in mm."""
    return (found[axis].stop - found[axis].start) * spacing_zyx[axis]


def labelled_slices(labels: np.ndarray, bone: int, axis: int = 0) -> np.ndarray:
    """Indices along ``axis`` of the slices that hold any of ``bone``'s labels, ascending."""
    return np.flatnonzero(np.any(labels == bone, axis=tuple(a for a in range(labels.ndim) if a != axis)))


def labelled_length_mm(labels: np.ndarray, bone: int, spacing_zyx: tuple[float, float, float], axis: int) -> float:
    """How far all of ``bone``'s labels together reach along ``axis``, in mm (0 when there are none): no
    piece is longer, so a bone too short for a trim is passed over without labelling its pieces (0.6 s on
    a 300 x 512 x 512 knee, where neither a hip nor an ankle can be)."""
    present = labelled_slices(labels, bone, axis)
    return 0.0 if present.size == 0 else float(present[-1] - present[0] + 1) * spacing_zyx[axis]


def trim_each_piece(
    labels: np.ndarray,
    ct: Volume,
    bone: int,
    region: Callable[[Box], Box | None],
    drop: Callable[[np.ndarray, Box], np.ndarray | None],
) -> int:
    """Unlabel, in place, what ``drop`` finds in each piece of ``bone``; returns the voxels unlabelled.

    ``region(found)`` gives the box to look in for the piece whose box is ``found`` (None: leave it);
    ``drop(mine, box)`` gets that piece's mask there and returns the voxels to unlabel (None: none).
    A piece that holds both legs' bones (two femurs joined through a pelvis labelled femur) is cut
    between the legs first (``ct`` says where left and right are), so each leg's end is trimmed alone."""
    pieces, count = ndimage.label(labels == bone, structure=np.ones((3, 3, 3), dtype=bool))
    count = split_across_legs(pieces, count, ct, tuple(slice(0, n) for n in labels.shape)) if count else 0
    removed = 0
    for index, found in enumerate(ndimage.find_objects(pieces), start=1):
        box = None if found is None else region(found)
        if box is None:
            continue
        gone = drop(pieces[box] == index, box)
        if gone is None:
            continue
        labels[box][gone] = 0
        removed += int(np.count_nonzero(gone))
    return removed
