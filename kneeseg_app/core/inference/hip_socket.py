"""Is the femur-like bone a femoral head in its socket? The knee-joint test's check for hip scans.

At the hip a 2D network may call the femoral head "femur" and the neck, trochanters and shaft
below it "tibia": a femur-like bone above a tibia-like one that widens toward their junction,
both running out of the scan, which is what the profile test of :mod:`knee_joint` accepts. What
a knee never has is the acetabulum: unlabelled dense bone wrapped around the femur-like bone a
few millimetres beyond its surface. Next to a knee's distal femur the only such bone is the
patella, and it faces a small part of the condyles.

The measure: dense bone (:data:`SOCKET_HU`) that the network did not label, 2.5-10 mm from the
femur-like bone's lowest 50 mm (past the blurred edge of its own cortex), over that end's
volume. On a coarse grid (about 2 mm), so it costs milliseconds.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from kneeseg_app.core.inference.densities import METAL_HU
from kneeseg_app.core.inference.knee_joint import KneeJoint, bone_extent, superior_axis
from kneeseg_app.core.volume import Volume

SOCKET_SHELL_MM = (2.5, 10.0)
"""The shell searched for a socket: beyond the blur of the bone's own cortex, within a joint's reach."""
SOCKET_END_MM = 50.0
"""The femur-like bone's end measured (its lowest part, toward the tibia-like bone)."""
SOCKET_HU = (250.0, METAL_HU)
"""Bone, not metal (metal and its blurred rim are left out separately)."""
METAL_RIM_MM = 5.0
"""Voxels this close to metal are its blur and streaks, not bone."""
GRID_MM = 2.0
"""Coarse grid of the measure."""
MAX_SOCKET_SHARE = 0.2
"""More socket than this share of the end's volume is a hip. Measured on the true labels of the stress
suite's 79 knees and the independent generator's 24: 0.01-0.10 (the highest on 3 mm slices; 0.04 beside a
knee replacement); the hip scan whose heads the profile test let through: 0.42 and 0.69."""


def femur_end(femur: np.ndarray, axis: int, sign: float, slice_mm: float) -> np.ndarray:
    """The lowest :data:`SOCKET_END_MM` of a femur mask (patient-inferior end, along ``axis``)."""
    others = tuple(a for a in range(3) if a != axis)
    profile = np.count_nonzero(femur, axis=others)
    if not profile.any():
        return np.zeros_like(femur)
    first, last = bone_extent(profile)
    reach = int(round(SOCKET_END_MM / slice_mm))
    index = [slice(None)] * 3
    if sign > 0:  # index grows superior: the lowest slice is the first
        index[axis] = slice(first, first + reach + 1)
    else:
        index[axis] = slice(max(last - reach, 0), last + 1)
    end = np.zeros_like(femur)
    end[tuple(index)] = femur[tuple(index)]
    return end


def socket_share(
    hu: np.ndarray, labelled: np.ndarray, end: np.ndarray, spacing_zyx: tuple[float, float, float]
) -> float:
    """Unlabelled dense bone in the socket shell around ``end``, over the volume of ``end`` (all three arrays
    cover the same box, which reaches at least :data:`SOCKET_SHELL_MM` beyond ``end``)."""
    step = tuple(max(1, int(round(GRID_MM / s))) for s in spacing_zyx)
    coarse = tuple(slice(None, None, k) for k in step)
    sampling = tuple(s * k for s, k in zip(spacing_zyx, step))
    e, h, lab = end[coarse], hu[coarse], labelled[coarse]
    if not e.any():
        return 0.0
    distance = ndimage.distance_transform_edt(~e, sampling=sampling)
    shell = (distance > SOCKET_SHELL_MM[0]) & (distance <= SOCKET_SHELL_MM[1])
    metal = h >= SOCKET_HU[1]
    if metal.any():
        shell &= ndimage.distance_transform_edt(~metal, sampling=sampling) > METAL_RIM_MM
    socket = shell & ~lab & (h >= SOCKET_HU[0]) & (h < SOCKET_HU[1])
    return float(np.count_nonzero(socket)) / float(np.count_nonzero(e))


def grown_box(
    mask: np.ndarray, offset: tuple[int, ...], shape: tuple[int, ...], spacing_zyx
) -> tuple[slice, ...] | None:
    """The bounding box of ``mask`` (a box starting at ``offset`` in a volume of ``shape``), grown by the
    socket shell and clipped to the volume, in the volume's indices."""
    found = ndimage.find_objects(mask.astype(np.uint8))
    if not found or found[0] is None:
        return None
    margin = [int(np.ceil(SOCKET_SHELL_MM[1] / s)) + 2 for s in spacing_zyx]
    return tuple(
        slice(max(o + b.start - m, 0), min(o + b.stop + m, n)) for b, o, m, n in zip(found[0], offset, margin, shape)
    )


def judge_socket(
    joint: KneeJoint, leg: np.ndarray, network: np.ndarray, box: tuple[slice, ...], ct: Volume, femur: int
) -> KneeJoint:
    """``joint`` unchanged unless the leg passed the profile test with its femur-like bone in a socket.

    ``leg`` holds the leg's decided labels and ``network`` the network's labels, both over ``box`` of
    the scan; bone the network labelled anywhere is no socket (an acetabulum it called femur stays
    part of the femur-like bone)."""
    if not joint.is_knee:
        return joint
    axis, sign = superior_axis(ct.direction)
    end = femur_end(leg == femur, axis, sign, float(ct.spacing_zyx[axis]))
    around = grown_box(end, tuple(b.start for b in box), ct.shape, ct.spacing_zyx)
    if around is None:
        return joint
    inner = tuple(slice(max(a.start, b.start), min(a.stop, b.stop)) for a, b in zip(around, box))
    in_around = tuple(slice(i.start - a.start, i.stop - a.start) for i, a in zip(inner, around))
    in_box = tuple(slice(i.start - b.start, i.stop - b.start) for i, b in zip(inner, box))
    shape = tuple(a.stop - a.start for a in around)
    end_local, labelled = np.zeros(shape, dtype=bool), np.zeros(shape, dtype=bool)
    end_local[in_around] = end[in_box]
    labelled[in_around] = network[in_box] > 0
    share = socket_share(np.asarray(ct.array[around]), labelled, end_local, ct.spacing_zyx)
    if share <= MAX_SOCKET_SHARE:
        return replace(joint, socket_share=share)
    return replace(
        joint,
        reason="the femur-like bone sits in a socket of other bone, as a femoral head in its acetabulum "
        f"(bone around its end {share:.2f} of its volume, a knee's at most {MAX_SOCKET_SHARE})",
        socket_share=share,
    )
