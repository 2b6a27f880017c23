"""The variation axes of issue 12 as data: one row of pinned cases per axis, everything else neutral.

The gallery (``benchmarks/phantom_gallery.py --axes``) draws these rows, and a stress
evaluation can use the same rows with seeds of its own: ``axis_choices("metal", 2)`` is
the third case of the metal row as :class:`WideChoices` for ``generate_phantom(...,
variation="wide", choices=...)``. Axes not named in a case stay at :data:`NEUTRAL`, so a
row shows one axis at a time; drawing without pins (``WideChoices()``) varies them all.
"""

from __future__ import annotations

from kneeseg_app.core.phantom.variation import WideChoices

NEUTRAL: dict = dict(
    legs="one",
    off_centre=0.0,
    position="HFS",
    implant="none",
    contrast=False,
    calcification=False,
    padding_hu=-1024,
    noise_sd=12.0,
    sharpness=0.5,
    ringing=False,
    table="curved",
    aids=(),
    flexion_deg=5.0,
    rotation_deg=0.0,
    oa_grade=0,
    habitus=0.4,
    bone_quality=0.0,
    fabella=False,
    coverage_mm=(95.0, 95.0),
    anatomy=0.5,
    bone_streaks=0.0,
)

AXES: dict[str, tuple[tuple[str, dict], ...]] = {
    "kernel": tuple(
        (f"sharpness {t}" + (" + ringing" if r else ""), dict(sharpness=t, ringing=r))
        for t, r in ((0.0, False), (0.4, False), (0.8, False), (1.0, True))
    ),
    "noise": tuple((f"noise {n:.0f} HU", dict(noise_sd=n)) for n in (5.0, 20.0, 40.0, 60.0)),
    "calibration": tuple(
        (f"offset {o:+.0f}, gain {g}", dict(hu_offset=o, hu_scale=g))
        for o, g in ((-40.0, 0.96), (0.0, 1.0), (40.0, 1.04))
    ),
    "fov-matrix": tuple(
        (f"FOV {f:.0f} mm, {p} px", dict(fov_mm=f, pixels=p))
        for f, p in ((150.0, 512), (250.0, 256), (380.0, 768), (500.0, 1024))
    ),
    "slice-spacing": tuple((f"slices {z} mm", dict(slice_mm=z)) for z in (0.5, 1.25, 3.0, 5.0)),
    "padding": tuple((f"padding {p}", dict(padding_hu=p)) for p in (None, -3024, -2048, -2000, -1024, 0)),
    "legs": (
        ("one leg", dict(legs="one")),
        ("apart", dict(legs="apart", centre_on_pair=True)),
        ("touching", dict(legs="touching", centre_on_pair=True)),
        ("cut by the FOV", dict(legs="one", off_centre=0.75)),
    ),
    "position": tuple(
        (p, dict(position=p, legs="touching", centre_on_pair=True)) for p in ("HFS", "FFS", "HFP", "FFP")
    ),
    "flexion": tuple((f"flexion {f:.0f} deg", dict(flexion_deg=f)) for f in (0.0, 15.0, 30.0, 45.0)),
    "rotation": tuple((f"rotation {r:+.0f} deg", dict(rotation_deg=r)) for r in (-25.0, 0.0, 25.0)),
    "coverage": tuple(
        (f"{a + b:.0f} mm", dict(coverage_mm=(a, b)))
        for a, b in ((30.0, 30.0), (100.0, 100.0), (260.0, 240.0), (640.0, 560.0))
    ),
    "table": tuple(
        (t + (" + " + "+".join(a) if a else ""), dict(table=t, aids=a))
        for t, a in (
            ("curved", ()),
            ("flat", ("rails",)),
            ("mattress", ("wedge",)),
            ("flat", ("gel", "strap")),
            ("curved", ("qct",)),
            ("none", ()),
        )
    ),
    "metal": tuple(
        (
            f"{k}{'' if same else ' (other leg)'}",
            dict(implant=k, implant_same_leg=same, legs="one" if same else "touching", centre_on_pair=True),
        )
        for k, same in (("tkr", True), ("plate", True), ("nail", True), ("tkr", False))
    ),
    "vessels": (
        ("none", dict()),
        ("contrast", dict(contrast=True)),
        ("calcified", dict(calcification=True)),
        ("both", dict(contrast=True, calcification=True)),
    ),
    "habitus": tuple((f"habitus {h}", dict(habitus=h)) for h in (0.0, 0.35, 0.7, 1.0)),
    "bone-quality": tuple((f"bone {q:+.1f}", dict(bone_quality=q)) for q in (-1.0, -0.4, 0.4, 1.0)),
    "osteoarthritis": tuple(
        (f"grade {g}{' valgus' if v < 0 else ''}", dict(oa_grade=g, varus_deg=v))
        for g, v in ((0, 8.0), (2, 8.0), (3, 10.0), (4, 14.0), (4, -12.0))
    ),
    "fabella": (("no fabella", dict(fabella=False)), ("fabella", dict(fabella=True))),
    "bone-streaks": tuple(
        (f"bone streaks {b:.0f} HU", dict(bone_streaks=b, legs="touching", centre_on_pair=True, noise_sd=5.0))
        for b in (0.0, 30.0, 60.0)
    ),
    "anatomy": tuple(
        (f"proportions {a} ({side})", dict(anatomy=a, side=side))
        for a, side in ((0.0, "left"), (1.0, "left"), (1.0, "right"))
    ),
}


def axis_choices(axis: str, index: int, **extra) -> WideChoices:
    """The pins of case ``index`` of ``axis`` on top of the neutral ones (``extra`` pins more)."""
    _, pins = AXES[axis][index]
    return WideChoices(**{**NEUTRAL, **pins, **extra})
