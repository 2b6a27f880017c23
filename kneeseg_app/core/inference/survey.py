"""A survey of a long scan: every ~10 mm slice first, the whole scan only where it may hold a knee.

A 2D network's cost follows the slices and the field of view, not the knee: a 321-slice chest CT
without a knee took 27 s to come back empty (the knee-joint test discarding what the network
called bone), 7-18x a knee scan's median. The knee-joint test (:mod:`.bone_layout`,
:mod:`.knee_joint`, :mod:`.hip_socket`) judges each leg from profiles along the body axis over
20-50 mm. So a long axial scan is first segmented on every ``k``-th slice (:data:`SURVEY_MM`
apart), a regular grid of its own:

* no leg there has a knee joint for a *firm* reason (no bone, one bone, the bones side by side or
  upside down: ``KneeJoint.firm``, true on any sampling): the scan comes back empty with it;
* otherwise the whole scan is segmented as always (the survey cost ``1/k`` more). Reasons that hinge
  on a profile's detail (the plateau's flare, a bone's length, the joint gap, a socket) are left to
  the whole scan: sampled every 10 mm, two knees flexed 40 deg of the independent phantoms showed
  no flare (0.63, 0.89); sampled every 3 mm, one still did (1.12 with the 1.1.0 model, 1.2 needed),
  though the whole scan passes.
"""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.inference.knee_joint import superior_axis
from kneeseg_app.core.volume import Volume

SURVEY_MM = 10.0
"""Distance of the surveyed slices: half the shortest profile the knee-joint test reads."""
SURVEY_MIN_SLICES = 150
"""Scans with fewer slices are segmented at once (the survey would save little)."""
MIN_STEP = 4
"""A survey of fewer than one slice in four saves too little to be worth its cost on knees."""


def survey_step(volume: Volume) -> int:
    """Every how many slices ``volume`` is surveyed (:data:`SURVEY_MM` apart); 0 for a short scan, thick
    slices, or slices that do not run across the body axis."""
    axis, _ = superior_axis(volume.direction)
    if axis != 0 or volume.shape[0] < SURVEY_MIN_SLICES:
        return 0
    step = int(round(SURVEY_MM / volume.spacing_zyx[0]))
    return step if step >= MIN_STEP else 0


def surveyed_slices(volume: Volume, step: int) -> Volume:
    """Every ``step``-th slice of ``volume`` as a volume of its own: same origin, direction and in-plane
    grid, ``step`` times the slice spacing (a regular grid, so every measure in mm stays true)."""
    sz, sy, sx = volume.spacing_zyx
    return Volume(
        np.ascontiguousarray(volume.array[::step]),
        (sz * step, sy, sx),
        volume.origin_xyz,
        volume.direction,
        source=volume.source,
    )


def spread_slices(surveyed: np.ndarray, step: int, slices: int) -> np.ndarray:
    """A per-slice array of the survey back on the whole scan's slices (each surveyed slice stands for
    the ``step`` slices around it)."""
    nearest = np.minimum((np.arange(slices) + step // 2) // step, surveyed.shape[0] - 1)
    return surveyed[nearest]
