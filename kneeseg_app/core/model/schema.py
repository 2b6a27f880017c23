"""The schema of a model package's manifest (docs/model-package.md) as frozen dataclasses.

The dataclasses are the contract between the trainer (writer) and the app (reader): their
fields are the only keys a manifest may have (:mod:`kneeseg_app.core.model.manifest` reads
and writes them, strictly). The inference options' limits and defaults are declared here
once, and the engine takes them from here (:data:`LIMITS`, :data:`SPEED_OPTIONS`,
:class:`InferenceDefaults`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from kneeseg_app.core.errors import ModelError
from kneeseg_app.core.labels import BONE_NAMES

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
FAMILIES = ("nnunet-2d", "nnunet-3d", "custom-unet-2d", "custom-unet-3d")
REQUIRED_BONES = BONE_NAMES
ROI_KINDS = ("none", "bones")
ROI_TILINGS = ("window", "grid")
PRECISIONS = ("float32", "int8")


class InvalidManifest(ModelError):
    """A manifest breaks the schema; ``reason`` says how, phrased to follow "cannot be used:"."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"The manifest cannot be used: {reason}.")


# ----------------------------------------------------------------------------
# limits of the inference options (shared with kneeseg_app.core.inference.settings)
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Limit:
    """The values one inference option may take: named choices, or a numeric interval."""

    choices: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def allows(self, value: Any) -> bool:
        if self.choices:
            return value in self.choices
        v = float(value)
        too_low = self.low is not None and (v <= self.low if self.low_open else v < self.low)
        too_high = self.high is not None and (v >= self.high if self.high_open else v > self.high)
        return not (too_low or too_high)

    def describe(self) -> str:
        """'one of none, bones', 'at least 1', 'between 1 and 4' or 'in [0, 0.5)'."""
        if self.choices:
            return "one of " + ", ".join(self.choices)
        if self.high is None:
            return f"{'above' if self.low_open else 'at least'} {self.low:g}"
        if not (self.low_open or self.high_open):
            return f"between {self.low:g} and {self.high:g}"
        return f"in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


LIMITS: Mapping[str, Limit] = {
    "tile_step_size": Limit(low=0.0, high=1.0, low_open=True),
    "batch_size": Limit(low=1),
    "roi": Limit(choices=ROI_KINDS),
    "roi_tiling": Limit(choices=ROI_TILINGS),
    "roi_margin_mm": Limit(low=0.0),
    "roi_slice_margin": Limit(low=0),
    "precision": Limit(choices=PRECISIONS),
    "resample_tolerance": Limit(low=0.0, high=0.5, high_open=True),
    "slice_stride": Limit(low=1, high=4),
    "slice_refine": Limit(low=0.0),
}
"""What the manifest's ``inference`` section and a caller's options may ask for."""

SPEED_OPTIONS = ("skip_air_tiles", "roi", "skip_empty_slices", "precision", "resample_tolerance", "slice_stride")
"""The options that change results; their :class:`InferenceDefaults` are nnU-Net's maths (an exact run)."""


# ----------------------------------------------------------------------------
# the schema
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class NetworkFile:
    file: str
    sha256: str
    fold: int | str | None = None
    int8_file: str | None = None
    """Optional statically quantised copy of the network (run when precision is 'int8')."""
    int8_sha256: str | None = None

    def for_precision(self, precision: str) -> tuple[str, str]:
        """(file, sha256) of the network to run at ``precision``."""
        if precision == "int8":
            if not self.int8_file or not self.int8_sha256:
                raise ValueError(f"{self.file} has no int8 version")
            return self.int8_file, self.int8_sha256
        return self.file, self.sha256


@dataclass(frozen=True)
class InputSpec:
    dims: int
    patch_size: tuple[int, ...]
    target_spacing: tuple[float, ...]
    orientation: str = "LPS"
    transpose_forward: tuple[int, int, int] = (0, 1, 2)
    transpose_backward: tuple[int, int, int] = (0, 1, 2)
    divisibility: tuple[int, ...] = ()
    """() = 1 per axis."""
    channels: tuple[str, ...] = ("CT",)


@dataclass(frozen=True)
class Normalization:
    lower: float
    upper: float
    mean: float
    std: float
    scheme: str = "CT"


@dataclass(frozen=True)
class Resampling:
    data_order: int = 3
    data_order_z: int = 0
    probabilities_order: int = 1
    probabilities_order_z: int = 0
    force_separate_z: bool | None = None
    separate_z_anisotropy_threshold: float = 3.0


@dataclass(frozen=True)
class InferenceDefaults:
    tile_step_size: float = 0.5
    gaussian: bool = True
    gaussian_sigma_scale: float = 0.125
    mirror_axes: tuple[int, ...] = ()
    default_tta: bool = False
    skip_air_tiles: bool = False
    batch_size: int = 4
    # speed options of the 2D path (docs/model-package.md); the defaults are nnU-Net's maths
    roi: str = "none"
    """'bones': run the network only on a window around the bones found by an HU first pass."""
    roi_threshold_hu: float = 250.0
    roi_margin_mm: float = 24.0
    roi_slice_margin: int = 3
    roi_min_size: tuple[int, ...] = ()
    """Smallest network window per axis (pixels); () = the patch."""
    roi_tiling: str = "window"
    """'window': a compact window around the bones, tiled from its corner; 'grid': nnU-Net's
    whole-plane tiles that reach the bones (nnU-Net's logits inside the bone region)."""
    skip_empty_slices: bool = False
    """Slices with no bone candidate (and none within roi_slice_margin) are not run."""
    precision: str = "float32"
    """'int8' runs each network's int8_file (speed-up ~3x on CPUs with VNNI)."""
    resample_tolerance: float = 0.0
    """No in-plane resampling when the spacing is within this fraction of the target spacing."""
    slice_stride: int = 1
    """2D: run every n-th slice of a slab, interpolate the logits of the others..."""
    slice_refine: float = 0.0
    """...except where the neighbours' labels differ on more than this fraction of their bone pixels."""


@dataclass(frozen=True)
class Postprocessing:
    largest_component: tuple[int, ...] = ()
    min_fraction: float = 0.0
    """Components at least this fraction of the largest are kept too (0: largest only, nnU-Net's rule;
    0.25 keeps the other knee of a two-leg scan)."""
    rule: str = "largest"
    """'largest' (the components above) or 'anatomy' (femur and tibia decided from density, the body
    outline, the leg and the joint: kneeseg_app/core/inference/bone_layout.py; needs labels named
    femur and tibia)."""


@dataclass(frozen=True)
class TrainingInfo:
    data: str = ""
    synthetic: bool | None = None
    cases: int | None = None
    seeds: str = ""
    command: str = ""


@dataclass(frozen=True)
class ValidationInfo:
    cases: int | None = None
    dice: Mapping[str, float] = field(default_factory=dict)
    hd95_mm: Mapping[str, float] = field(default_factory=dict)
    assd_mm: Mapping[str, float] = field(default_factory=dict)
    source: str = ""
    """How the numbers were measured (which cases, which predictor)."""
    demo_case_dice: Mapping[str, float] = field(default_factory=dict)
    """Dice this model reached on the bundled demo case when it was packaged: the self-test
    of an installed copy must reproduce it (a check of the installation, not of quality)."""


@dataclass(frozen=True)
class SourceInfo:
    """The nnU-Net run the networks were exported from (for people; the app does not use it)."""

    results_folder: str = ""
    dataset: str = ""
    trainer: str = ""
    plans: str = ""
    configuration: str = ""


@dataclass(frozen=True)
class ChecksInfo:
    """What the trainer measured before it wrote the package (for people; the app does not use it)."""

    onnx_max_abs_diff: float | None = None
    """Largest |torch - onnxruntime| logit of the exported networks."""
    engine_vs_nnunet_dice: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Check image -> Dice per bone (and differing voxels) of the app engine vs nnUNetPredictor."""
    int8_vs_float32_dice: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Check image -> Dice per bone of the int8 networks' labels vs the float32 ones'."""


@dataclass(frozen=True)
class StressInfo:
    """The stress suite's summary (``kneeseg-train stress``; for people, the app does not use it).

    The worst row is the number that matters; the whole table is in the model's README."""

    suite: str = ""
    cases: int | None = None
    rows: int | None = None
    worst_row: str = ""
    worst_dice: Mapping[str, float] = field(default_factory=dict)
    """Per bone: the mean Dice of the worst row."""
    mean_dice: Mapping[str, float] = field(default_factory=dict)
    worst_hd95_mm: Mapping[str, float] = field(default_factory=dict)
    """Per bone: the largest HD95 of any case (-1: a bone missed entirely)."""
    negatives_max_ml: float | None = None
    """The most bone (mL, either bone) predicted in a CT without a knee."""
    seconds_median: float | None = None
    seconds_worst: float | None = None
    """Segmentation time of the median and the slowest case (this machine, package defaults)."""
    source: str = ""


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """A whole manifest; also the one builder of new manifests (write it with :func:`write_manifest`)."""

    schema_version: int = SCHEMA_VERSION
    name: str
    version: str
    family: str
    description: str = ""
    default: bool = False
    labels: Mapping[int, str]
    networks: tuple[NetworkFile, ...]
    input: InputSpec
    normalization: Normalization
    resampling: Resampling = Resampling()
    inference: InferenceDefaults = InferenceDefaults()
    postprocessing: Postprocessing = Postprocessing()
    training: TrainingInfo = TrainingInfo()
    validation: ValidationInfo = ValidationInfo()
    clinical_use: bool = False
    license: str = ""
    created: str = ""
    kneeseg_version: str = ""
    source: SourceInfo | None = None
    recipe: Mapping[str, Any] = field(default_factory=dict)
    """How the trainer made the package (free-form, its own keys; for people, the app does not use it)."""
    checks: ChecksInfo = ChecksInfo()
    stress: StressInfo = StressInfo()


SECTIONS: Mapping[str, type] = {
    "networks": NetworkFile,
    "input": InputSpec,
    "normalization": Normalization,
    "resampling": Resampling,
    "inference": InferenceDefaults,
    "postprocessing": Postprocessing,
    "training": TrainingInfo,
    "validation": ValidationInfo,
    "source": SourceInfo,
    "checks": ChecksInfo,
    "stress": StressInfo,
}
"""Each section of the manifest (``networks``: each entry) and the dataclass whose fields are its keys."""


def known_keys(schema: type) -> tuple[str, ...]:
    """The keys a manifest section may have: its dataclass's fields."""
    return tuple(f.name for f in fields(schema))
