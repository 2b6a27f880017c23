"""What one independent phantom case is made of, and how cases are drawn (EVALUATION ONLY, never training).

A case is a list of legs (anatomy, pose, disease) plus one scanner setting (grid, kernel,
noise, calibration, padding, table). ``draw_case`` cycles through variation recipes so a
handful of cases covers one and two legs, healthy and osteoarthritic knees, flexion,
rotation, fields of view, spacings, kernels, noise and padding; everything a recipe does
not fix is drawn at random from ranges that real knee CT spans.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Disease:
    """Osteoarthritis as CT shows it: narrower joint, bony spurs, denser bone under the cartilage."""

    grade: int = 0
    """0 healthy, 1 mild, 2 moderate, 3 severe (bone on bone medially)."""
    joint_space_mm: tuple[float, float] = (5.0, 5.0)
    """Gap between condyle and plateau, (medial, lateral)."""
    osteophyte_mm: float = 0.0
    sclerosis_hu: float = 0.0


@dataclass(frozen=True)
class Leg:
    """One leg: its side, where the knee is, its pose, its size, its bone and soft tissue."""

    side: str
    """'right' or 'left' (the patient's)."""
    knee_xyz: tuple[float, float, float]
    """LPS position of the joint centre (between condyles and plateau), mm."""
    flexion_deg: float = 0.0
    rotation_deg: float = 0.0
    """Internal/external rotation of the whole leg about the table's long axis."""
    tilt_deg: float = 0.0
    """Coronal tilt (hip abduction): the leg is not parallel to the scanner axis."""
    scale: float = 1.0
    fat_mm: float = 12.0
    muscle_mm: float = 30.0
    """Muscle thickness around the femur shaft (thigh girth beyond the bone)."""
    cortical_hu: float = 1400.0
    cancellous_hu: float = 250.0
    marrow_hu: float = 20.0
    disease: Disease = field(default_factory=Disease)
    shape_seed: int = 0


@dataclass(frozen=True)
class Scanner:
    """The reconstruction and its artefacts."""

    matrix: int = 512
    fov_mm: float = 300.0
    centre_xy: tuple[float, float] = (0.0, 0.0)
    slice_spacing_mm: float = 1.0
    slice_thickness_mm: float = 1.0
    z_first_mm: float = -100.0
    slices: int = 200
    kernel: str = "standard"
    """'soft', 'standard' or 'sharp' (sharp rings at edges)."""
    noise_hu: float = 15.0
    hu_offset: float = 0.0
    """Calibration error: every tissue reads this many HU off, and the header does not know."""
    padding_hu: float = -1024.0
    """HU outside the circular reconstruction area."""
    padding_tag: bool = False
    """Write PixelPaddingValue (as some vendors do)."""
    rescale: tuple[float, float] = (1.0, -1024.0)
    table: str = "flat"
    """'flat', 'curved', 'none'."""
    contrast: bool = False
    """Contrast in the arteries (CT angiography of the leg)."""
    row_direction: float = 1.0
    """+1: columns advance to the patient's left (IOP 1,0,0); -1: to the right (IOP -1,0,0, seen in FFS series)."""


@dataclass(frozen=True)
class Case:
    """One phantom case: a name, what it varies, its legs and its scanner."""

    name: str
    variation: str
    legs: tuple[Leg, ...]
    scanner: Scanner
    seed: int


RECIPES: tuple[str, ...] = (
    "one leg, healthy, straight",
    "two legs apart, healthy, mild flexion",
    "two legs touching, osteoarthritis",
    "one leg, severe OA, flexion 30-40, rotated",
    "one leg, small FOV 160 mm, sharp kernel, thin slices",
    "two legs, FOV 480 mm, soft kernel, 3 mm slices",
    "one leg, long scan 400 mm, noise 40 HU, padding 0",
    "one leg, short scan 80 mm, HU offset, padding -2048",
    "two legs apart, rotated 20 deg, moderate OA, no table",
    "one leg, obese, low noise, 256 matrix",
    "one leg, extremes: flexion 40, rotation 25, OA 3, sharp, noise 40, offset 30, padding 0",
    "two legs touching, flexion 35-40, OA 3, soft 3 mm, noise 35, columns toward patient right",
)


def _disease(rng: np.random.Generator, grade: int) -> Disease:
    """Joint space, spurs and sclerosis for an OA grade; medial narrower in varus knees."""
    if grade == 0:
        gap = rng.uniform(4.5, 6.5)
        return Disease(0, (gap, gap + rng.uniform(-0.5, 0.8)), 0.0, 0.0)
    medial = {1: rng.uniform(2.5, 3.5), 2: rng.uniform(1.2, 2.2), 3: rng.uniform(0.3, 0.8)}[grade]
    lateral = medial + rng.uniform(0.5, 2.5)
    spur = {1: rng.uniform(1.5, 3.0), 2: rng.uniform(3.0, 5.0), 3: rng.uniform(5.0, 8.0)}[grade]
    sclerosis = {1: 150.0, 2: 300.0, 3: 550.0}[grade] * rng.uniform(0.8, 1.2)
    return Disease(grade, (medial, lateral), spur, sclerosis)


def _leg(
    rng: np.random.Generator,
    side: str,
    knee_xyz: tuple[float, float, float],
    grade: int,
    flexion: float,
    rotation: float,
    fat_mm: float,
) -> Leg:
    """One leg with its own size, tissue densities and a shape seed for its small irregularities."""
    osteoporotic = rng.uniform() < 0.3
    return Leg(
        side=side,
        knee_xyz=knee_xyz,
        flexion_deg=flexion,
        rotation_deg=rotation,
        tilt_deg=rng.uniform(-6, 6),
        scale=rng.uniform(0.86, 1.14),
        fat_mm=fat_mm,
        muscle_mm=rng.uniform(22, 45),
        cortical_hu=rng.uniform(850, 1150) if osteoporotic else rng.uniform(1200, 1800),
        cancellous_hu=rng.uniform(90, 170) if osteoporotic else rng.uniform(180, 380),
        marrow_hu=rng.uniform(-60, 60),
        disease=_disease(rng, grade),
        shape_seed=int(rng.integers(0, 2**31)),
    )


def _scanner(rng: np.random.Generator, recipe: int, two_legs: bool, centre_x: float) -> Scanner:
    """Grid, kernel, noise and calibration; the recipe pins the axis it is about."""
    matrix = int(rng.choice([384, 512])) if recipe != 9 else 256
    fov = rng.uniform(320, 470) if two_legs else rng.uniform(170, 300)
    if recipe == 4:
        fov, matrix = rng.uniform(155, 165), 512
    if recipe == 5:
        fov, matrix = 480.0, 512
    fov = float(np.clip(fov, 0.3 * matrix, 0.95 * matrix))
    spacing = rng.uniform(0.6, 1.5) if recipe not in (4, 5) else (0.6 if recipe == 4 else 3.0)
    length = rng.uniform(120, 260)
    length = {6: 400.0, 7: 80.0}.get(recipe, length)
    spacing = max(spacing, length / 300.0)
    slices = int(round(length / spacing))
    kernel = {4: "sharp", 5: "soft"}.get(recipe, str(rng.choice(["soft", "standard", "sharp"])))
    noise = {6: 40.0, 9: 8.0}.get(recipe, rng.uniform(10, 30))
    padding = {6: 0.0, 7: -2048.0}.get(recipe, float(rng.choice([-2048.0, -1024.0, 0.0])))
    offset = rng.uniform(20, 35) * rng.choice([-1, 1]) if recipe == 7 else rng.uniform(-12, 12)
    table = "none" if recipe == 8 else str(rng.choice(["flat", "curved", "none"], p=[0.45, 0.45, 0.1]))
    rescale = [(1.0, -1024.0), (1.0, -8192.0), (0.5, -1024.0), (1.0, 0.0)][int(rng.integers(0, 4))]
    centre = (centre_x + rng.uniform(-15, 15), rng.uniform(-20, 20))
    return Scanner(
        matrix=matrix,
        fov_mm=fov,
        centre_xy=centre,
        slice_spacing_mm=spacing,
        slice_thickness_mm=spacing * rng.uniform(1.0, 1.5),
        z_first_mm=-length * rng.uniform(0.35, 0.65),
        slices=slices,
        kernel=kernel,
        noise_hu=noise,
        hu_offset=offset,
        padding_hu=padding,
        padding_tag=bool(padding == -2048.0 and rng.uniform() < 0.5),
        rescale=rescale,
        table=table,
        contrast=bool(rng.uniform() < 0.2),
    )


def draw_case(seed: int, index: int) -> Case:
    """Case ``index`` of the suite drawn with ``seed``: recipe ``index % len(RECIPES)``."""
    recipe = index % len(RECIPES)
    rng = np.random.default_rng([seed, index])
    two_legs = recipe in (1, 2, 5, 8, 11)
    grade = {2: int(rng.integers(1, 3)), 3: 3, 8: 2}.get(recipe, int(rng.uniform() < 0.25))
    flexion = {0: 0.0, 3: rng.uniform(30, 40), 1: rng.uniform(5, 15)}.get(recipe, rng.uniform(0, 25))
    rotation = {3: rng.uniform(15, 20) * rng.choice([-1, 1]), 8: 20.0}.get(recipe, rng.uniform(-10, 10))
    fat = rng.uniform(30, 45) if recipe == 9 else rng.uniform(4, 22)
    knee_y = rng.uniform(-10, 10)
    if two_legs:
        knee_half_width = 47.0 + fat + 2.0  # knee core + fat + skin: legs touch when centres are 2x apart
        half = knee_half_width * 0.96 if recipe in (2, 11) else knee_half_width + rng.uniform(10, 60)
        legs = tuple(
            _leg(
                rng,
                side,
                (sign * half, knee_y, rng.uniform(-4, 4)),
                grade,
                flexion + rng.uniform(-3, 3),
                sign * -rotation if recipe == 8 else rotation,
                fat,
            )
            for side, sign in (("right", -1.0), ("left", 1.0))
        )
        centre_x = 0.0
    else:
        side = str(rng.choice(["right", "left"]))
        centre_x = rng.uniform(-130, 130)
        legs = (_leg(rng, side, (centre_x, knee_y, 0.0), grade, flexion, rotation, fat),)
    scanner = _scanner(rng, recipe, two_legs, centre_x)
    case = Case(name=f"case{index:02d}", variation=RECIPES[recipe], legs=legs, scanner=scanner, seed=seed)
    return _extremes(case, recipe, np.random.default_rng([seed, index, 10])) if recipe >= 10 else case


def _extremes(case: Case, recipe: int, rng: np.random.Generator) -> Case:
    """Recipes 10-11: several axes at their limits at once (drawn after, so cases 0-9 never change)."""
    sign = float(rng.choice([-1.0, 1.0]))
    if recipe == 10:
        legs = tuple(
            replace(
                leg, flexion_deg=rng.uniform(38, 40), rotation_deg=sign * rng.uniform(22, 25), disease=_disease(rng, 3)
            )
            for leg in case.legs
        )
        length = rng.uniform(150, 180)
        scanner = replace(
            case.scanner,
            matrix=512,
            fov_mm=rng.uniform(160, 170),
            slice_spacing_mm=0.6,
            slice_thickness_mm=0.6,
            slices=int(length / 0.6),
            z_first_mm=-length * 0.5,
            kernel="sharp",
            noise_hu=40.0,
            hu_offset=sign * rng.uniform(28, 35),
            padding_hu=0.0,
        )
    else:
        legs = tuple(replace(leg, flexion_deg=rng.uniform(35, 40), disease=_disease(rng, 3)) for leg in case.legs)
        length = rng.uniform(180, 300)
        scanner = replace(
            case.scanner,
            fov_mm=rng.uniform(360, 440),
            slice_spacing_mm=3.0,
            slice_thickness_mm=3.0,
            slices=int(length / 3.0),
            z_first_mm=-length * 0.5,
            kernel="soft",
            noise_hu=35.0,
            row_direction=-1.0,
        )
    return replace(case, legs=legs, scanner=scanner)


def describe(case: Case) -> str:
    """The case's scanner and pose in one short line for tables (grid, spacing, kernel, noise, padding, table)."""
    s = case.scanner
    pixel = s.fov_mm / s.matrix
    flexion = max(leg.flexion_deg for leg in case.legs)
    grade = max(leg.disease.grade for leg in case.legs)
    return (
        f"{s.matrix}x{s.matrix}x{s.slices}, FOV {s.fov_mm:.0f}, {pixel:.2f}/{s.slice_spacing_mm:.2f} mm, "
        f"{s.kernel}, noise {s.noise_hu:.0f}, offset {s.hu_offset:+.0f}, pad {s.padding_hu:.0f}, "
        f"table {s.table}, flex {flexion:.0f}, OA {grade}"
    )
