"""Model packages: a folder with ``manifest.json`` and ONNX networks (docs/model-package.md).

The manifest is parsed into frozen dataclasses and validated before any network is
touched, so a broken or foreign package is refused with one sentence saying why.
Checksums are verified and ONNX files opened lazily (:meth:`ModelPackage.open_networks`),
because listing models must stay instant. Nothing here ever unpickles.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kneeseg_app.core import paths
from kneeseg_app.core.errors import ModelError
from kneeseg_app.core.labels import BONE_NAMES

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
FAMILIES = ("nnunet-2d", "nnunet-3d", "custom-unet-2d", "custom-unet-3d")
REQUIRED_BONES = BONE_NAMES
INPUT_TENSOR = "input"
OUTPUT_TENSOR = "logits"
ROI_KINDS = ("none", "bones")
ROI_TILINGS = ("window", "grid")
PRECISIONS = ("float32", "int8")


class ModelPackageError(ModelError):
    """A model package cannot be used; ``reason`` says why in a few words."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"The model at {self.path} cannot be used: {reason}.")


# ----------------------------------------------------------------------------
# manifest dataclasses
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
    orientation: str
    transpose_forward: tuple[int, int, int]
    transpose_backward: tuple[int, int, int]
    dims: int
    patch_size: tuple[int, ...]
    target_spacing: tuple[float, ...]
    divisibility: tuple[int, ...]
    channels: tuple[str, ...]


@dataclass(frozen=True)
class Normalization:
    scheme: str
    lower: float
    upper: float
    mean: float
    std: float


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
    demo_case_dice: Mapping[str, float] = field(default_factory=dict)
    """Dice this model reached on the bundled demo case when it was packaged: the self-test
    of an installed copy must reproduce it (a check of the installation, not of quality)."""


@dataclass(frozen=True)
class Manifest:
    schema_version: int
    name: str
    version: str
    family: str
    description: str
    labels: Mapping[int, str]
    networks: tuple[NetworkFile, ...]
    input: InputSpec
    normalization: Normalization
    resampling: Resampling
    inference: InferenceDefaults
    postprocessing: Postprocessing
    training: TrainingInfo
    validation: ValidationInfo
    clinical_use: bool = False
    license: str = ""
    created: str = ""
    kneeseg_version: str = ""
    default: bool = False


# ----------------------------------------------------------------------------
# manifest parsing
# ----------------------------------------------------------------------------
class _Invalid(Exception):
    """A manifest problem, turned into ModelPackageError with the folder's path."""


def _section(raw: Mapping[str, Any], key: str, required: bool = True) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise _Invalid(
            f"its manifest has no '{key}' section" if value is None else f"'{key}' in its manifest is not an object"
        )
    return value


def _get(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if key not in raw or raw[key] is None:
        if default is ...:
            raise _Invalid(f"its manifest lacks the field '{where}{key}'")
        return default
    value = raw[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (bool in kinds or not isinstance(value, bool)) and isinstance(value, kinds):
        return value
    raise _Invalid(f"'{where}{key}' in its manifest has the wrong type ({type(value).__name__})")


def _number(raw: Mapping[str, Any], key: str, where: str, default: Any = ...) -> float:
    return float(_get(raw, key, (int, float), where, default))


def _int_list(raw: Mapping[str, Any], key: str, where: str, length: int | None, default: Any = ...) -> tuple[int, ...]:
    value = _get(raw, key, list, where, default)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value) or (
        length is not None and len(value) != length
    ):
        size = f"{length} " if length is not None else ""
        raise _Invalid(f"'{where}{key}' in its manifest must be a list of {size}integers")
    return tuple(value)


def _float_list(raw: Mapping[str, Any], key: str, where: str, length: int) -> tuple[float, ...]:
    value = _get(raw, key, list, where)
    if len(value) != length or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value
    ):
        raise _Invalid(f"'{where}{key}' in its manifest must be a list of {length} positive numbers")
    return tuple(float(v) for v in value)


def _schema_major(raw: Mapping[str, Any]) -> int:
    value = raw.get("schema_version")
    if isinstance(value, bool) or value is None:
        raise _Invalid("its manifest has no schema_version")
    try:
        return int(str(value).split(".")[0])
    except ValueError:
        raise _Invalid(f"its manifest has an unreadable schema_version '{value}'") from None


def _parse_labels(raw: Mapping[str, Any]) -> dict[int, str]:
    labels_raw = _get(raw, "labels", dict, "")
    labels: dict[int, str] = {}
    for key, name in labels_raw.items():
        try:
            labels[int(key)] = str(name)
        except ValueError:
            raise _Invalid(f"its label '{key}' is not an integer") from None
    if labels.get(0, "").lower() != "background":
        raise _Invalid("its label 0 must be 'background'")
    if sorted(labels) != list(range(len(labels))):
        raise _Invalid("its labels must be numbered 0, 1, 2, ... without gaps")
    names = {n.lower() for n in labels.values()}
    missing = [b for b in REQUIRED_BONES if b not in names]
    if missing:
        raise _Invalid(
            f"its labels {sorted(set(labels.values()) - {'background'})} are an unknown label scheme "
            f"(KneeSeg needs {' and '.join(REQUIRED_BONES)})"
        )
    return dict(sorted(labels.items()))


def _parse_networks(raw: Mapping[str, Any]) -> tuple[NetworkFile, ...]:
    items = _get(raw, "networks", list, "")
    if not items:
        raise _Invalid("its manifest lists no networks")
    networks = []
    for item in items:
        if not isinstance(item, Mapping):
            raise _Invalid("an entry of 'networks' in its manifest is not an object")
        file = _get(item, "file", str, "networks[].")
        if Path(file).name != file or not file.lower().endswith(".onnx"):
            raise _Invalid(f"network file '{file}' must be a plain .onnx file name inside the package")
        sha = _checked_sha(_get(item, "sha256", str, "networks[]."), file)
        int8_file = _get(item, "int8_file", str, "networks[].", None)
        int8_sha = None
        if int8_file is not None:
            if Path(int8_file).name != int8_file or not int8_file.lower().endswith(".onnx"):
                raise _Invalid(f"network file '{int8_file}' must be a plain .onnx file name inside the package")
            int8_sha = _checked_sha(_get(item, "int8_sha256", str, "networks[]."), int8_file)
        networks.append(
            NetworkFile(file=file, sha256=sha, fold=item.get("fold"), int8_file=int8_file, int8_sha256=int8_sha)
        )
    return tuple(networks)


def _roi_tiling(sec: Mapping[str, Any]) -> str:
    tiling = _get(sec, "roi_tiling", str, "inference.", "window")
    if tiling not in ROI_TILINGS:
        raise _Invalid(f"'inference.roi_tiling' must be one of {', '.join(ROI_TILINGS)}, not '{tiling}'")
    return tiling


def _checked_sha(sha: str, file: str) -> str:
    sha = sha.lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise _Invalid(f"the sha256 of {file} in its manifest is not a 64-digit hex string")
    return sha


def _parse_input(raw: Mapping[str, Any]) -> InputSpec:
    sec = _section(raw, "input")
    w = "input."
    dims = _get(sec, "dims", int, w)
    if dims not in (2, 3):
        raise _Invalid(f"'input.dims' must be 2 or 3, not {dims}")
    forward = _int_list(sec, "transpose_forward", w, 3, [0, 1, 2])
    backward = _int_list(sec, "transpose_backward", w, 3, [0, 1, 2])
    if sorted(forward) != [0, 1, 2] or [forward[b] for b in backward] != [0, 1, 2]:
        raise _Invalid("'input.transpose_backward' must undo 'input.transpose_forward'")
    patch = _int_list(sec, "patch_size", w, dims)
    divisibility = _int_list(sec, "divisibility", w, dims, [1] * dims)
    if any(p <= 0 for p in patch) or any(d <= 0 or p % d for p, d in zip(patch, divisibility)):
        raise _Invalid("'input.patch_size' must be positive multiples of 'input.divisibility'")
    channels = _get(sec, "channels", list, w, ["CT"])
    if len(channels) != 1:
        raise _Invalid(f"it expects {len(channels)} input channels; KneeSeg gives one CT channel")
    return InputSpec(
        orientation=_get(sec, "orientation", str, w, "LPS").upper(),
        transpose_forward=forward,  # type: ignore[arg-type]
        transpose_backward=backward,  # type: ignore[arg-type]
        dims=dims,
        patch_size=patch,
        target_spacing=_float_list(sec, "target_spacing", w, dims),
        divisibility=divisibility,
        channels=tuple(str(c) for c in channels),
    )


def _parse_normalization(raw: Mapping[str, Any]) -> Normalization:
    sec = _section(raw, "normalization")
    w = "normalization."
    scheme = _get(sec, "scheme", str, w)
    if scheme.upper() != "CT":
        raise _Invalid(f"its normalization scheme '{scheme}' is not supported (only 'CT')")
    norm = Normalization(
        "CT", _number(sec, "lower", w), _number(sec, "upper", w), _number(sec, "mean", w), _number(sec, "std", w)
    )
    if not norm.lower < norm.upper or norm.std <= 0:
        raise _Invalid("its normalization needs lower < upper and a positive std")
    return norm


def _parse_resampling(raw: Mapping[str, Any]) -> Resampling:
    sec = _section(raw, "resampling", required=False)
    w = "resampling."
    orders = {
        k: _get(sec, k, int, w, d)
        for k, d in (("data_order", 3), ("data_order_z", 0), ("probabilities_order", 1), ("probabilities_order_z", 0))
    }
    if any(not 0 <= o <= 5 for o in orders.values()):
        raise _Invalid("its resampling orders must be between 0 and 5")
    return Resampling(
        **orders,
        force_separate_z=_get(sec, "force_separate_z", bool, w, None),
        separate_z_anisotropy_threshold=_number(sec, "separate_z_anisotropy_threshold", w, 3.0),
    )


def _parse_inference(raw: Mapping[str, Any], dims: int) -> InferenceDefaults:
    sec = _section(raw, "inference", required=False)
    w = "inference."
    step = _number(sec, "tile_step_size", w, 0.5)
    if not 0 < step <= 1:
        raise _Invalid("'inference.tile_step_size' must be in (0, 1]")
    mirror = _int_list(sec, "mirror_axes", w, None, [])
    if any(not 0 <= a < dims for a in mirror) or len(set(mirror)) != len(mirror):
        raise _Invalid(f"'inference.mirror_axes' must be distinct axes below {dims}")
    batch = _get(sec, "batch_size", int, w, 4)
    if batch < 1:
        raise _Invalid("'inference.batch_size' must be at least 1")
    roi = _get(sec, "roi", str, w, "none")
    if roi not in ROI_KINDS:
        raise _Invalid(f"'inference.roi' must be one of {', '.join(ROI_KINDS)}, not '{roi}'")
    precision = _get(sec, "precision", str, w, "float32")
    if precision not in PRECISIONS:
        raise _Invalid(f"'inference.precision' must be one of {', '.join(PRECISIONS)}, not '{precision}'")
    margin = _number(sec, "roi_margin_mm", w, 24.0)
    slice_margin = _get(sec, "roi_slice_margin", int, w, 3)
    tolerance = _number(sec, "resample_tolerance", w, 0.0)
    if margin < 0 or slice_margin < 0 or not 0 <= tolerance < 0.5:
        raise _Invalid(
            "'inference.roi_margin_mm' and 'roi_slice_margin' must be >= 0, 'resample_tolerance' in [0, 0.5)"
        )
    stride = _get(sec, "slice_stride", int, w, 1)
    refine = _number(sec, "slice_refine", w, 0.0)
    if not 1 <= stride <= 4 or refine < 0:
        raise _Invalid("'inference.slice_stride' must be 1 to 4 and 'slice_refine' >= 0")
    return InferenceDefaults(
        tile_step_size=step,
        gaussian=_get(sec, "gaussian", bool, w, True),
        gaussian_sigma_scale=_number(sec, "gaussian_sigma_scale", w, 0.125),
        mirror_axes=mirror,
        default_tta=_get(sec, "default_tta", bool, w, False),
        skip_air_tiles=_get(sec, "skip_air_tiles", bool, w, False),
        batch_size=batch,
        roi=roi,
        roi_threshold_hu=_number(sec, "roi_threshold_hu", w, 250.0),
        roi_margin_mm=margin,
        roi_slice_margin=slice_margin,
        roi_min_size=_int_list(sec, "roi_min_size", w, dims, []) if sec.get("roi_min_size") else (),
        roi_tiling=_roi_tiling(sec),
        skip_empty_slices=_get(sec, "skip_empty_slices", bool, w, False),
        precision=precision,
        resample_tolerance=tolerance,
        slice_stride=stride,
        slice_refine=refine,
    )


def _parse_postprocessing(raw: Mapping[str, Any], labels: Mapping[int, str]) -> Postprocessing:
    sec = _section(raw, "postprocessing", required=False)
    largest = _int_list(sec, "largest_component", "postprocessing.", None, [])
    if any(label not in labels or label == 0 for label in largest):
        raise _Invalid("'postprocessing.largest_component' names labels the model does not have")
    fraction = _number(sec, "min_fraction", "postprocessing.", 0.0)
    if not 0 <= fraction <= 1:
        raise _Invalid("'postprocessing.min_fraction' must be between 0 and 1")
    return Postprocessing(largest_component=largest, min_fraction=fraction)


def _metric_map(sec: Mapping[str, Any], key: str) -> dict[str, float]:
    value = sec.get(key) or {}
    if not isinstance(value, Mapping) or not all(isinstance(v, (int, float)) for v in value.values()):
        raise _Invalid(f"'validation.{key}' in its manifest must map bone names to numbers")
    return {str(k): float(v) for k, v in value.items()}


def _parse_training(raw: Mapping[str, Any]) -> TrainingInfo:
    sec = _section(raw, "training", required=False)
    return TrainingInfo(
        data=str(sec.get("data", "")),
        synthetic=sec.get("synthetic") if isinstance(sec.get("synthetic"), bool) else None,
        cases=sec.get("cases") if isinstance(sec.get("cases"), int) else None,
        seeds=str(sec.get("seeds", "")),
        command=str(sec.get("command", "")),
    )


def _parse_validation(raw: Mapping[str, Any]) -> ValidationInfo:
    sec = _section(raw, "validation", required=False)
    return ValidationInfo(
        cases=sec.get("cases") if isinstance(sec.get("cases"), int) else None,
        dice=_metric_map(sec, "dice"),
        hd95_mm=_metric_map(sec, "hd95_mm"),
        assd_mm=_metric_map(sec, "assd_mm"),
        demo_case_dice=_metric_map(sec, "demo_case_dice"),
    )


def parse_manifest(raw: Mapping[str, Any]) -> Manifest:
    """Validate a manifest's JSON object; raises ``_Invalid`` with the reason."""
    if not isinstance(raw, Mapping):
        raise _Invalid("its manifest.json is not a JSON object")
    major = _schema_major(raw)
    if major > SCHEMA_VERSION:
        raise _Invalid(
            f"it needs a newer KneeSeg (manifest schema version {raw['schema_version']}; this KneeSeg reads {SCHEMA_VERSION})"
        )
    if major < 1:
        raise _Invalid(f"its manifest schema version {raw['schema_version']} is not valid")
    name = _get(raw, "name", str, "").strip()
    if not name:
        raise _Invalid("its manifest has an empty name")
    family = _get(raw, "family", str, "")
    if family not in FAMILIES:
        raise _Invalid(f"its family '{family}' is unknown (known: {', '.join(FAMILIES)})")
    labels = _parse_labels(raw)
    spec = _parse_input(raw)
    if spec.dims != (3 if family.endswith("3d") else 2):
        raise _Invalid(f"its family '{family}' contradicts 'input.dims' = {spec.dims}")
    networks = _parse_networks(raw)
    inference = _parse_inference(raw, spec.dims)
    if inference.precision == "int8" and not all(n.int8_file for n in networks):
        raise _Invalid("'inference.precision' is 'int8' but not every network has an 'int8_file'")
    return Manifest(
        schema_version=major,
        name=name,
        version=str(_get(raw, "version", (str, int, float), "")),
        family=family,
        description=str(raw.get("description", "")),
        labels=labels,
        networks=networks,
        input=spec,
        normalization=_parse_normalization(raw),
        resampling=_parse_resampling(raw),
        inference=inference,
        postprocessing=_parse_postprocessing(raw, labels),
        training=_parse_training(raw),
        validation=_parse_validation(raw),
        clinical_use=_get(raw, "clinical_use", bool, "", False),
        license=str(raw.get("license", "")),
        created=str(raw.get("created", "")),
        kneeseg_version=str(raw.get("kneeseg_version", "")),
        default=_get(raw, "default", bool, "", False),
    )


# ----------------------------------------------------------------------------
# the package
# ----------------------------------------------------------------------------
@dataclass
class OnnxNetwork:
    """One opened network: an onnxruntime session and the names to call it by."""

    file: str
    session: Any
    input_name: str = INPUT_TENSOR
    output_name: str = OUTPUT_TENSOR

    def run(self, batch: Any, run_options: Any = None) -> Any:
        import numpy as np

        out = self.session.run([self.output_name], {self.input_name: batch}, run_options)[0]
        return np.asarray(out, dtype=np.float32)


class ModelPackage:
    """A validated model package; networks open only when :meth:`open_networks` is called."""

    def __init__(self, path: Path, manifest: Manifest, origin: str = "path") -> None:
        self.path = path
        self.manifest = manifest
        self.origin = origin
        """Where it was found: 'bundled', 'user', 'extra' or 'path'."""
        self._verified = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ModelPackage({self.manifest.name!r} v{self.manifest.version}, {self.path})"

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def label_names(self) -> dict[int, str]:
        """Foreground labels: value -> bone name (background left out)."""
        return {k: v for k, v in self.manifest.labels.items() if k != 0}

    @property
    def n_labels(self) -> int:
        return len(self.manifest.labels)

    @property
    def not_for_clinical_use(self) -> bool:
        return not self.manifest.clinical_use

    def network_paths(self) -> list[Path]:
        return [self.path / n.file for n in self.manifest.networks]

    def summary(self) -> str:
        """A few lines for a person: what it is, what it was trained on, how good it is."""
        m = self.manifest
        spec = m.input
        bones = ", ".join(f"{k}={v}" for k, v in self.label_names.items())
        spacing = " x ".join(f"{s:g}" for s in spec.target_spacing)
        patch = " x ".join(str(p) for p in spec.patch_size)
        folds = len(m.networks)
        lines = [
            f"{m.name} {m.version} ({m.family}, {folds} network{'s' if folds > 1 else ''}){'  [default]' if m.default else ''}",
            f"  {m.description}" if m.description else "",
            f"  labels      {bones}",
            f"  input       {spec.orientation}, spacing {spacing} mm, patch {patch}, CT window {m.normalization.lower:g}..{m.normalization.upper:g} HU",
            f"  training    {m.training.data or '?'}" + (f", {m.training.cases} cases" if m.training.cases else ""),
        ]
        if m.validation.dice:
            dice = ", ".join(f"{b} {d:.3f}" for b, d in m.validation.dice.items())
            hd = ", ".join(f"{b} {d:.2f}" for b, d in m.validation.hd95_mm.items())
            cases = f" on {m.validation.cases} cases" if m.validation.cases else ""
            lines.append(f"  validation  Dice {dice}" + (f"; HD95 mm {hd}" if hd else "") + cases)
        if self.not_for_clinical_use:
            lines.append("  NOT FOR CLINICAL USE")
        lines.append(f"  folder      {self.path}")
        return "\n".join(line for line in lines if line)

    # ----- checks that need the ONNX files ----------------------------------
    def _read_verified(self, network: NetworkFile, precision: str = "float32") -> bytes:
        name, sha256 = network.for_precision(precision)
        file = self.path / name
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ModelPackageError(self.path, f"its network {name} cannot be read ({exc.strerror or exc})") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ModelPackageError(
                self.path, f"the checksum of {name} does not match its manifest (damaged or replaced file)"
            )
        return data

    def has_precision(self, precision: str) -> bool:
        """Whether every network exists at ``precision`` ('float32' always does)."""
        return precision == "float32" or all(n.int8_file for n in self.manifest.networks)

    def verify(self) -> None:
        """Check every network's sha256 against the manifest (once; cached)."""
        with self._lock:
            if self._verified:
                return
            for network in self.manifest.networks:
                self._read_verified(network)
                if network.int8_file:
                    self._read_verified(network, "int8")
            self._verified = True

    def open_networks(self, threads: int = 1, precision: str = "float32") -> list[OnnxNetwork]:
        """Verify checksums, then open each network in onnxruntime and check its inputs/outputs.

        The bytes that were hashed are the bytes given to onnxruntime, so a file swapped
        between the check and the load cannot slip through. ``precision`` 'int8' opens
        each network's quantised copy.
        """
        if not self.has_precision(precision):
            raise ModelPackageError(self.path, f"it has no {precision} networks")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(int(threads), 1)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        opened = []
        for network in self.manifest.networks:
            data = self._read_verified(network, precision)
            name = network.for_precision(precision)[0]
            try:
                session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own untyped errors
                detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
                raise ModelPackageError(self.path, f"{name} is not a valid ONNX model ({detail})") from exc
            opened.append(self._checked_network(name, session))
        with self._lock:
            self._verified = True
        return opened

    def _checked_network(self, file: str, session: Any) -> OnnxNetwork:
        dims = self.manifest.input.dims
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if [i.name for i in inputs] != [INPUT_TENSOR]:
            raise ModelPackageError(
                self.path, f"{file} has inputs {[i.name for i in inputs]}, not one input named '{INPUT_TENSOR}'"
            )
        if OUTPUT_TENSOR not in [o.name for o in outputs]:
            raise ModelPackageError(self.path, f"{file} has no output named '{OUTPUT_TENSOR}'")
        output = next(o for o in outputs if o.name == OUTPUT_TENSOR)
        for what, tensor in (("input", inputs[0]), ("output", output)):
            if len(tensor.shape) != dims + 2:
                raise ModelPackageError(
                    self.path, f"{file} has a rank-{len(tensor.shape)} {what} but a {dims}D model needs rank {dims + 2}"
                )
            if "float" not in str(tensor.type):
                raise ModelPackageError(self.path, f"{file} has a {tensor.type} {what}, not a float tensor")
        channels = output.shape[1]
        if isinstance(channels, int) and channels != self.n_labels:
            raise ModelPackageError(
                self.path, f"{file} gives {channels} output channels but the manifest has {self.n_labels} labels"
            )
        in_channels = inputs[0].shape[1]
        if isinstance(in_channels, int) and in_channels != 1:
            raise ModelPackageError(self.path, f"{file} expects {in_channels} input channels, not 1")
        return OnnxNetwork(file=file, session=session)


def load_model_package(folder: str | os.PathLike[str], origin: str = "path") -> ModelPackage:
    """Read and validate a package folder (or its manifest.json); ModelError says why not."""
    path = Path(folder)
    if path.name == MANIFEST and path.is_file():
        path = path.parent
    if not path.is_dir():
        if path.suffix.lower() == ".onnx" and path.is_file():
            raise ModelPackageError(path, "there is no manifest.json beside it")
        raise ModelPackageError(path, "the folder does not exist")
    manifest_file = path / MANIFEST
    if not manifest_file.is_file():
        raise ModelPackageError(path, "the folder has no manifest.json")
    try:
        raw = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelPackageError(path, f"its manifest.json is not valid JSON ({exc})") from exc
    try:
        manifest = parse_manifest(raw)
    except _Invalid as exc:
        raise ModelPackageError(path, str(exc)) from None
    files = [f for n in manifest.networks for f in (n.file, n.int8_file) if f]
    missing = [f for f in files if not (path / f).is_file()]
    if missing:
        raise ModelPackageError(path, f"its network file {', '.join(missing)} is missing")
    return ModelPackage(path.resolve(), manifest, origin=origin)


# ----------------------------------------------------------------------------
# discovery
# ----------------------------------------------------------------------------
@dataclass
class Discovery:
    """Models found, and the folders/files that look like models but cannot be used."""

    models: list[ModelPackage] = field(default_factory=list)
    rejected: list[tuple[Path, str]] = field(default_factory=list)

    def by_name(self, name: str) -> ModelPackage | None:
        for model in self.models:
            if model.name == name:
                return model
        lowered = name.lower()
        matches = [m for m in self.models if m.name.lower() == lowered]
        return matches[0] if len(matches) == 1 else None


def _candidates(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    found = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if (
            entry.is_dir()
            and ((entry / MANIFEST).is_file() or any(entry.glob("*.onnx")))
            or entry.is_file()
            and entry.suffix.lower() == ".onnx"
        ):
            found.append(entry)
    return found


def discover_models(extra_dirs: Sequence[str | os.PathLike[str]] = ()) -> Discovery:
    """Scan the bundled and per-user model folders (one level deep) and ``extra_dirs``.

    One broken package never hides the others: it is listed in ``rejected`` with why.
    A name already taken by an earlier (bundled first) package is rejected too.
    """
    discovery = Discovery()
    roots: list[tuple[Path, str]] = [(paths.bundled_models_dir(), "bundled"), (paths.user_models_dir(), "user")]
    roots += [(Path(d), "extra") for d in extra_dirs]
    seen: dict[str, Path] = {}
    for root, origin in roots:
        for candidate in _candidates(root):
            try:
                package = load_model_package(candidate, origin=origin)
            except ModelPackageError as exc:
                discovery.rejected.append((candidate, exc.reason))
                continue
            if package.name in seen:
                discovery.rejected.append(
                    (candidate, f"a model named '{package.name}' is already installed at {seen[package.name]}")
                )
                continue
            seen[package.name] = package.path
            discovery.models.append(package)
    return discovery


def default_model(discovery: Discovery) -> ModelPackage:
    """The bundled model marked ``"default": true`` (else the first bundled, else any)."""
    for pool in ([m for m in discovery.models if m.origin == "bundled"], discovery.models):
        if pool:
            marked = [m for m in pool if m.manifest.default]
            return (marked or pool)[0]
    why = (
        f" ({len(discovery.rejected)} package(s) were found but cannot be used; run 'kneeseg models')"
        if discovery.rejected
        else ""
    )
    raise ModelError(f"No segmentation model is installed{why}.")


def find_model(
    name_or_path: str | os.PathLike[str] | None = None, extra_dirs: Sequence[str | os.PathLike[str]] = ()
) -> ModelPackage:
    """The model to use: ``None`` -> the default; an existing path -> that package; else by name."""
    if name_or_path is not None and (
        Path(name_or_path).exists() or os.sep in str(name_or_path) or "/" in str(name_or_path)
    ):
        return load_model_package(name_or_path)
    discovery = discover_models(extra_dirs)
    if name_or_path is None:
        return default_model(discovery)
    found = discovery.by_name(str(name_or_path))
    if found is not None:
        return found
    for path, reason in discovery.rejected:
        if path.name == str(name_or_path):
            raise ModelPackageError(path, reason)
    known = ", ".join(m.name for m in discovery.models) or "none"
    raise ModelError(f"No model named '{name_or_path}' is installed (installed: {known}).")


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, streamed (for writing manifests)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
