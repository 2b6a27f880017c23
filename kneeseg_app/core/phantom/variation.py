"""Parameters of the wide-variation phantoms (scanner, implants, vessels, aids, long bones).

The classic generator (:mod:`kneeseg_app.core.phantom.draw`) stays as it was, so the
demo case and old test sets are bit-for-bit the same; a phantom with
``PhantomParams.extras`` set is rendered with everything here on top. Every field is
plain data, so a test can pin any axis with :func:`dataclasses.replace`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

POSITIONS_WIDE = ("HFS", "FFS", "HFP", "FFP")
PADDINGS = (-3024, -2048, -2000, -1024, 0)
IMPLANT_KINDS = ("tkr", "plate", "nail")
AID_KINDS = ("wedge", "gel", "rails", "strap", "qct")
NEGATIVE_KINDS = ("thigh", "calf", "hip", "ankle", "torso", "arm", "table", "air", "head", "chest")
"""New kinds are appended, so the index of a kind (used to seed suites) never changes."""


@dataclass(frozen=True)
class Scanner:
    """Reconstruction kernel, noise texture and calibration of one scan (image-only axes).

    The kernel is a radial transfer function: Gaussian blur (``psf_sigma_mm``), edge
    enhancement up to ``1 + edge_boost`` at high frequencies, and optionally a hard
    cut at ``ringing_cutoff`` x Nyquist, whose Gibbs oscillation is the edge ringing of
    sharp kernels. Noise passes through the same kernel (times ``f ** noise_texture``),
    so a soft kernel gives blotchy, a sharp one fine-grained noise.
    """

    sharpness: float = 0.5
    psf_sigma_mm: float = 0.5
    edge_boost: float = 0.0
    ringing_cutoff: float | None = None
    noise_texture: float = 0.5
    hu_scale: float = 1.0
    clip_low: float | None = None
    clip_high: float | None = None
    bone_streak_hu: float = 0.0
    """Beam hardening and photon starvation from bone (dark bands between the femora), at most this strong."""


@dataclass(frozen=True)
class Implant:
    """A metal implant in leg ``leg`` (index into ``PhantomParams.legs``).

    ``kind``: "tkr" (femoral component and tibial tray with stem), "plate" (a plate with
    screws on ``bone``), "nail" (intramedullary nail with locking screws in ``bone``).
    Metal voxels are labelled 0 (not bone).
    """

    kind: str
    leg: int
    bone: str
    hu: float
    streak_hu: float
    thickness_mm: float = 4.0
    side: float = 1.0
    """+1 lateral, -1 medial (which face a plate lies on)."""
    screws: int = 4


@dataclass(frozen=True)
class Vessels:
    """Contrast in the arteries (``contrast_hu`` None = no contrast) and calcified plaques."""

    contrast_hu: float | None = None
    calcification_hu: float = 0.0
    plaques: tuple[tuple[float, float, float], ...] = ()
    """(position along the artery in mm from the joint, angle around it in rad, radius mm)."""


@dataclass(frozen=True)
class Aid:
    """A positioning aid drawn into every slice: foam wedge, gel pad, table rails, strap, calibration phantom."""

    kind: str
    x_offset_mm: float
    width_mm: float
    height_mm: float
    hu: float
    inserts: tuple[float, ...] = ()
    """HU of the rods in a QCT calibration phantom ("qct")."""


@dataclass(frozen=True)
class LongBones:
    """Proximal femur and distal tibia for long scans (hip-to-ankle), in bone frames (mm)."""

    femur_length: float = 430.0
    """Joint line to the top of the femoral head."""
    tibia_length: float = 370.0
    """Joint line to the tibial plafond."""
    head_radius: float = 23.0
    neck_shaft_deg: float = 128.0
    anteversion_deg: float = 12.0
    neck_length: float = 52.0


@dataclass(frozen=True)
class Extras:
    """Everything the wide generator adds to a classic phantom."""

    scanner: Scanner = field(default_factory=Scanner)
    implants: tuple[Implant, ...] = ()
    vessels: Vessels = field(default_factory=Vessels)
    fabella_mm: tuple[float, ...] = ()
    """Fabella semi-axis per leg (0 = none)."""
    aids: tuple[Aid, ...] = ()
    oriented: bool = True
    """Store the array as the scanner does for the patient position (FFS/prone flip axes)."""
    oa_grade: int = 0
    sharpness_name: str = ""


@dataclass(frozen=True)
class WideChoices:
    """Axes a caller (or a test) pins; None = draw from the seed. Units mm, degrees, HU."""

    sharpness: float | None = None
    ringing: bool | None = None
    noise_sd: float | None = None
    hu_offset: float | None = None
    hu_scale: float | None = None
    fov_mm: float | None = None
    pixels: int | None = None
    slice_mm: float | None = None
    padding_hu: int | None | str = "drawn"
    legs: str | None = None
    """"one", "apart" or "touching"."""
    off_centre: float | None = None
    """Knee distance from the FOV centre as a fraction of the FOV radius (1 = on the edge)."""
    off_angle: float | None = None
    """Direction of that shift (radians, 0 = patient's left)."""
    centre_on_pair: bool | None = None
    """Both legs: the field of view is centred between the knees (else on the first knee)."""
    position: str | None = None
    flexion_deg: float | None = None
    rotation_deg: float | None = None
    coverage_mm: tuple[float, float] | None = None
    table: str | None = None
    """"curved", "flat", "mattress", "none" (+ aids drawn unless ``aids`` is given)."""
    aids: tuple[str, ...] | None = None
    implant: str | None = None
    """"none" or one of IMPLANT_KINDS."""
    implant_same_leg: bool | None = None
    implant_bone: str | None = None
    """"femur" or "tibia" (plates and nails)."""
    contrast: bool | None = None
    calcification: bool | None = None
    habitus: float | None = None
    """0 thin .. 1 obese."""
    bone_quality: float | None = None
    """-1 osteoporotic .. +1 sclerotic."""
    oa_grade: int | None = None
    varus_deg: float | None = None
    fabella: bool | None = None
    side: str | None = None
    bone_streaks: float | None = None
    """Strength (HU) of the streaks bone makes (0 = none)."""
    anatomy: float | None = None
    """0 classic bone proportions .. 1 each length +-12 %, tibial slope +-5 deg, valgus +-2.5 deg."""
