"""The drawn extras of a wide phantom: table design, bone quality, scanner, implants, vessels, aids.

Part of :mod:`draw_wide` (which draws every value first, in a fixed order, into ``d``);
these functions turn those values into parameters. Extra randomness (positions of plaques,
implant details, aid sizes) comes from streams seeded by ``d["extra"]``, so it never shifts
any other draw.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from kneeseg_app.core.phantom.params import TableParams, TissueHU
from kneeseg_app.core.phantom.variation import Aid, Extras, Implant, Scanner, Vessels


def table_design(d: dict, table: TableParams) -> TableParams:
    design = str(d["table"])
    side = -1.0 if str(d["position"]).upper().endswith("P") else 1.0
    if design == "none":
        return replace(table, present=False, side=side)
    if design == "flat":
        return replace(table, present=True, radius=5000.0, pad_mm=0.0, side=side)
    if design == "mattress":
        return replace(table, present=True, pad_mm=max(table.pad_mm, 45.0), side=side)
    return replace(table, present=True, side=side)


def bone_quality(t: TissueHU, q: float) -> TissueHU:
    """-1 osteoporotic (thin, faint cortex, fatty marrow) .. +1 sclerotic (dense)."""
    low = max(-q, 0.0)
    return replace(
        t,
        cortical=float(np.clip(t.cortical + 450.0 * q, 750.0, 2200.0)),
        cancellous=float(np.clip(t.cancellous + (250.0 * q if q > 0 else 170.0 * q), 60.0, 750.0)),
        marrow=float(t.marrow - 70.0 * low),
        trabecular_sd=float(t.trabecular_sd * (1.0 - 0.4 * low)),
    )


def draw_extras(d: dict, n_legs: int, grade: int) -> Extras:
    sub = np.random.default_rng(d["extra"])
    t = float(d["sharpness"])
    scanner = Scanner(
        sharpness=t,
        psf_sigma_mm=0.9 - 0.75 * t,
        edge_boost=0.8 * t * t,
        ringing_cutoff=float(d["ringing_cutoff"]) if d["ringing"] else None,
        noise_texture=float(d["noise_texture"]),
        hu_scale=float(d["hu_scale"]),
        clip_low=d["clip_low"],
        clip_high=d["clip_high"],
        bone_streak_hu=float(d["bone_streaks"]),
    )
    implants: tuple[Implant, ...] = ()
    if d["implant"] != "none":
        same = bool(d["implant_same_leg"]) or n_legs == 1
        implants = (
            Implant(
                kind=str(d["implant"]),
                leg=0 if same else 1,
                bone=str(d["implant_bone"]),
                hu=float(sub.uniform(3000, 8000)),
                streak_hu=float(sub.uniform(150, 700)),
                thickness_mm=float(sub.uniform(3.0, 5.5)),
                side=float(sub.choice([-1.0, 1.0])),
                screws=int(sub.integers(3, 7)),
            ),
        )
    plaques = tuple(
        (float(sub.uniform(-150, 250)), float(sub.uniform(0, 2 * math.pi)), float(sub.uniform(0.6, 2.0)))
        for _ in range(int(sub.integers(4, 16)) if d["calcification"] else 0)
    )
    vessels = Vessels(
        contrast_hu=float(sub.uniform(180, 500)) if d["contrast"] else None,
        calcification_hu=float(sub.uniform(350, 1300)),
        plaques=plaques,
    )
    fabella = tuple(float(sub.uniform(3.0, 5.0)) if d["fabella"] else 0.0 for _ in range(n_legs))
    qct_rng = np.random.default_rng([*d["extra"].tolist(), 9])
    aids = tuple(_qct_aid(qct_rng) if kind == "qct" else _aid(kind, sub) for kind in d["aids"])
    return Extras(scanner=scanner, implants=implants, vessels=vessels, fabella_mm=fabella, aids=aids, oa_grade=grade)


def _qct_aid(rng: np.random.Generator) -> Aid:
    """A QCT calibration phantom: a water-like block with rods of bone-like density (a femur look-alike)."""
    count = int(rng.integers(3, 6))
    inserts = tuple(
        float(v) for v in np.sort(rng.choice([50.0, 100.0, 200.0, 400.0, 800.0, 1200.0], count, replace=False))
    )
    return Aid(
        "qct",
        float(rng.uniform(-60, 60)),
        float(rng.uniform(180, 320)),
        float(rng.uniform(25, 45)),
        float(rng.uniform(-10, 60)),
        inserts,
    )


def _aid(kind: str, rng: np.random.Generator) -> Aid:
    hu = {
        "wedge": rng.uniform(-950, -750),
        "gel": rng.uniform(0, 90),
        "rails": rng.uniform(200, 1200),
        "strap": rng.uniform(-200, 150),
    }
    size = {
        "wedge": (rng.uniform(150, 300), rng.uniform(40, 110)),
        "gel": (rng.uniform(120, 260), rng.uniform(8, 20)),
        "rails": (rng.uniform(420, 520), rng.uniform(12, 30)),
        "strap": (rng.uniform(200, 320), rng.uniform(2, 5)),
    }
    width, height = size[kind]
    return Aid(kind, float(rng.uniform(-40, 40)), float(width), float(height), float(hu[kind]))
