"""Pins for the wide phantoms the network finds hardest: bones cut by the field of view,
deep flexion on thick slices, and hip-to-ankle coverage.

The wide generator draws each axis independently, so the combinations that fail most (two
touching knees in a field of view too narrow for them, a 40 deg flexed osteoarthritic joint on
3-5 mm slices, the acetabulum and the talus at the ends of a long scan) are rare in a training
set of a few dozen cases. :func:`hard_choices` pins one to three of these themes per case, from
its own random stream, and leaves every other axis to the seed: the default wide draws, the
stress suite and every test hashing them stay unchanged.
"""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.phantom.variation import WideChoices

HARD_THEMES = ("cut", "flexed", "long")
THEME_CHANCE = (0.55, 0.55, 0.35)
"""Probability of each theme in :data:`HARD_THEMES` (long scans are the slowest to draw and train)."""
"""``cut``: both legs in a 140-220 mm field of view, so condyles and plateaus run into the
reconstruction circle; ``flexed``: 28-45 deg flexion, 2-5 mm slices, osteoarthritis grade 2-4;
``long``: 500-1200 mm of coverage (hip and ankle anatomy drawn)."""


def hard_themes(seed: int) -> tuple[str, ...]:
    """Which themes case ``seed`` pins: each with its :data:`THEME_CHANCE`, at least one."""
    rng = np.random.default_rng([int(seed), 0x4A7D])
    picked = tuple(t for t, u, p in zip(HARD_THEMES, rng.random(len(HARD_THEMES)), THEME_CHANCE) if u < p)
    return picked or (HARD_THEMES[int(rng.integers(len(HARD_THEMES)))],)


def hard_choices(seed: int) -> WideChoices:
    """The pins of case ``seed``'s themes (values from the case's own stream)."""
    rng = np.random.default_rng([int(seed), 0x4A7E])
    pins: dict = {}
    themes = hard_themes(seed)
    if "cut" in themes:
        pins.update(
            legs="touching" if rng.random() < 0.6 else "apart",
            centre_on_pair=True,
            off_centre=0.0,
            fov_mm=float(rng.uniform(140.0, 220.0)),
            pixels=int(rng.choice((384, 512))),
        )
    if "flexed" in themes:
        pins.update(
            flexion_deg=float(rng.uniform(28.0, 45.0)),
            slice_mm=float(rng.choice((2.0, 2.5, 3.0, 4.0, 5.0))),
            oa_grade=int(rng.integers(2, 5)),
        )
        pins.setdefault("legs", "touching" if rng.random() < 0.5 else "one")
    if "long" in themes:
        total = float(rng.uniform(500.0, 1200.0))
        share = float(rng.uniform(0.4, 0.6))
        pins["coverage_mm"] = (total * share, total * (1.0 - share))
    return WideChoices(**pins)
