"""The parameters of a synthetic knee CT (what :mod:`phantom_draw` draws from a seed).

Every number a phantom depends on lives in :class:`PhantomParams`, so a phantom can be
described, stored and re-rendered exactly.

Units are millimetres and degrees; positions are LPS (x to the patient's left, y to the
back, z up). Knee-local positions ``(u, v, w)`` are lateral, posterior, superior, with the
origin at the centre of the tibial plateau.
"""

from __future__ import annotations

from dataclasses import dataclass

from kneeseg_app.core.phantom.variation import Extras, LongBones


@dataclass(frozen=True)
class Spur:
    """An osteophyte: a rounded bony rod from ``base`` (inside the bone) to ``tip``, in the bone's frame."""

    bone: str
    base: tuple[float, float, float]
    tip: tuple[float, float, float]
    radius: float


@dataclass(frozen=True)
class Cyst:
    """A subchondral cyst (fluid-filled hole under the joint surface), in the bone's frame."""

    bone: str
    centre: tuple[float, float, float]
    radius: float


@dataclass(frozen=True)
class EpicondylarSulcus:
    """The medial epicondylar sulcus: a dent behind and below the medial epicondyle's prominence (mm).

    Its centre is ``posterior_mm`` behind and ``distal_mm`` below the prominence (the middle of
    the epicondylar flare's widest part, :func:`phantom.epicondyles.prominence`), on the surface;
    the surface sinks by ``depth_mm`` there, half of that ``width_mm / 2`` away (a Gaussian dent).
    """

    posterior_mm: float
    distal_mm: float
    depth_mm: float
    width_mm: float


@dataclass(frozen=True)
class KneeShape:
    """Bone dimensions of one knee (already scaled to the body), in millimetres."""

    scale: float
    cond_radius: float
    cond_half_width_med: float
    cond_half_width_lat: float
    cond_extension: float
    cond_rise: float
    cond_core: float
    notch_half_width: float
    blumensaat_deg: float
    epicondyle_half_width: float
    femur_shaft_radius: float
    femur_valgus_deg: float
    trochlea_radius: float
    trochlea_groove: float
    femur_cortex: float
    plateau_half_width: float
    plateau_half_depth: float
    tibial_slope_deg: float
    medial_dish: float
    lateral_dome: float
    eminence_med: float
    eminence_lat: float
    tibia_shaft_radius: float
    tibia_cortex: float
    fibula_head: tuple[float, float, float]
    fibula_head_radius: float
    fibula_shaft_radius: float
    patella_semi: tuple[float, float, float]
    patella_height: float
    patella_gap: float
    joint_cortex: float
    posterior_condylar_angle_deg: float = 0.0
    """True posterior condylar angle: the TEA planning uses (surgical with a sulcus, else clinical)
    turned externally against the posterior condyles (about +3 in most knees; :mod:`epicondyles`).
    0 in classic and wide draws."""
    sulcus: EpicondylarSulcus | None = None
    """The medial epicondylar sulcus (the surgical TEA's medial end); None in classic and wide draws."""


@dataclass(frozen=True)
class SoftShape:
    """Outline of one leg's soft tissue: scale of the ellipse profile and its wobble."""

    girth: float
    wobble: tuple[float, float, float, float]
    septa: int
    septa_phase: float


@dataclass(frozen=True)
class LegParams:
    """Pose, anatomy and disease of one leg."""

    side: str
    knee_lps: tuple[float, float, float]
    axial_rotation_deg: float
    abduction_deg: float
    flexion_deg: float
    femur_tilt_deg: float
    patella_tracking: float
    shape: KneeShape
    soft: SoftShape
    osteoarthritis: bool
    gap_medial_mm: float
    gap_lateral_mm: float
    spurs: tuple[Spur, ...]
    cysts: tuple[Cyst, ...]
    sclerosis_hu: float
    surface_waves: tuple[tuple[float, float, float, float], ...] = ()
    """Gentle bumps on the bone surfaces: (k_u, k_v, k_w, phase), wave vectors in rad/mm."""
    surface_wave_mm: float = 0.0
    physis_hu: float = 0.0
    """Brightness of the healed growth-plate line in the femur and tibia."""
    varus_deg: float = 0.0
    """Coronal deformity of the tibia against the femur (+ varus, - valgus), wide phantoms only."""
    long: LongBones | None = None
    """Hip and ankle anatomy for long scans (wide phantoms only)."""

    @property
    def min_gap_mm(self) -> float:
        return min(self.gap_medial_mm, self.gap_lateral_mm)


@dataclass(frozen=True)
class TissueHU:
    """Mean CT numbers (HU) of each tissue before noise and scanner offset."""

    air: float
    skin: float
    fat: float
    muscle: float
    dense: float
    cortical: float
    cancellous: float
    marrow: float
    trabecular_sd: float
    table_shell: float
    table_core: float
    pad: float


@dataclass(frozen=True)
class Acquisition:
    """Grid and scanner appearance."""

    shape_zyx: tuple[int, int, int]
    spacing_zyx: tuple[float, float, float]
    origin_xyz: tuple[float, float, float]
    patient_position: str
    kernel: str
    noise_sd: float
    noise_blur: float
    hu_offset: float
    edge_width: float
    edge_boost: float
    padding_hu: int | None


@dataclass(frozen=True)
class TableParams:
    """The curved scanner table (and optional foam pad) the legs rest on."""

    present: bool
    x_lps: float
    radius: float
    pad_mm: float
    thickness_mm: float
    shell_mm: float
    half_width_mm: float
    compression_mm: float
    side: float = 1.0
    """+1: the table is behind the patient (supine), -1: in front (prone)."""


@dataclass(frozen=True)
class PhantomParams:
    """Everything a phantom is rendered from."""

    seed: int
    acquisition: Acquisition
    tissues: TissueHU
    fat_mm: float
    skin_mm: float
    body_scale: float
    table: TableParams
    legs: tuple[LegParams, ...]
    extras: Extras | None = None
    """Wide-variation additions (scanner model, implants, vessels, aids); None = classic phantom."""

    @property
    def osteoarthritis(self) -> bool:
        return any(leg.osteoarthritis for leg in self.legs)

    @property
    def both_legs(self) -> bool:
        return len(self.legs) == 2

    def describe(self) -> str:
        """One line for a person (used in the demo case's description)."""
        a = self.acquisition
        leg = self.legs[0]
        z, y, x = a.shape_zyx
        sz, sy, sx = a.spacing_zyx
        disease = "severe osteoarthritis" if leg.osteoarthritis else "healthy joint"
        if self.extras is not None:
            disease = f"osteoarthritis grade {self.extras.oa_grade}" if self.extras.oa_grade else "healthy joint"
        legs = "both legs" if self.both_legs else "one leg"
        text = (
            f"{leg.side} knee ({legs}), {disease}, flexion {leg.flexion_deg:.0f} deg; "
            f"{x}x{y}x{z} voxels of {sx:.2f}x{sy:.2f}x{sz:.2f} mm, noise {a.noise_sd:.0f} HU, kernel {a.kernel}"
        )
        if self.extras is None:
            return text
        e = self.extras
        implants = ", ".join(f"{i.kind} ({'same' if i.leg == 0 else 'other'} leg)" for i in e.implants) or "no metal"
        return (
            f"{text}; {a.patient_position}, rotation {leg.axial_rotation_deg:+.0f} deg, "
            f"padding {a.padding_hu}, {implants}, table {'yes' if self.table.present else 'none'}"
        )
