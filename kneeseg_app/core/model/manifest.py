"""The manifest of a model package, read and written here only (docs/model-package.md).

One module owns the manifest in both directions. :func:`parse_manifest` is the only way
in, and strict: an unknown key at any level is an error naming the key, its section and
the closest known key, because a typo must not silently fall back to a default.
:func:`manifest_to_json`, :func:`write_manifest` and :func:`update_manifest` are the only
way out: every writer (trainer export, quantisation, the demo recipe, the tests' factory)
builds a :class:`~kneeseg_app.core.model.schema.Manifest` and the file is written
atomically only after the reader's own checks passed.

A little over 400 lines on purpose: the reader and the writer of one contract stay in one
module (the schema itself is :mod:`kneeseg_app.core.model.schema`).
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any

from kneeseg_app.core.atomic import write_atomic
from kneeseg_app.core.model.schema import (
    FAMILIES,
    LIMITS,
    MANIFEST,
    REQUIRED_BONES,
    SCHEMA_VERSION,
    SECTIONS,
    ChecksInfo,
    InferenceDefaults,
    InputSpec,
    InvalidManifest,
    Manifest,
    NetworkFile,
    Normalization,
    Postprocessing,
    Resampling,
    SourceInfo,
    StressInfo,
    TrainingInfo,
    ValidationInfo,
    known_keys,
)

_INFERENCE = InferenceDefaults()


# ----------------------------------------------------------------------------
# strict parsing: JSON -> dataclasses
# ----------------------------------------------------------------------------
def _reject_unknown(raw: Mapping[str, Any], schema: type, where: str) -> None:
    """Every key must be a field of ``schema``: a typo must not silently fall back to a default."""
    known = known_keys(schema)
    for key in raw:
        if key not in known:
            close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'?" if close else "known keys: " + ", ".join(known)
            raise InvalidManifest(f"its manifest.json has an unknown key '{where}{key}' ({hint})")


def _section(raw: Mapping[str, Any], key: str, required: bool = True) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidManifest(
            f"its manifest has no '{key}' section" if value is None else f"'{key}' in its manifest is not an object"
        )
    _reject_unknown(value, SECTIONS[key], f"{key}.")
    return value


def _get(raw: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str, default: Any = ...) -> Any:
    if key not in raw or raw[key] is None:
        if default is ...:
            raise InvalidManifest(f"its manifest lacks the field '{where}{key}'")
        return default
    value = raw[key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if (bool in kinds or not isinstance(value, bool)) and isinstance(value, kinds):
        return value
    raise InvalidManifest(f"'{where}{key}' in its manifest has the wrong type ({type(value).__name__})")


def _number(raw: Mapping[str, Any], key: str, where: str, default: Any = ...) -> float:
    return float(_get(raw, key, (int, float), where, default))


def _int_list(raw: Mapping[str, Any], key: str, where: str, length: int | None, default: Any = ...) -> tuple[int, ...]:
    value = _get(raw, key, list, where, default)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in value) or (
        length is not None and len(value) != length
    ):
        size = f"{length} " if length is not None else ""
        raise InvalidManifest(f"'{where}{key}' in its manifest must be a list of {size}integers")
    return tuple(value)


def _float_list(raw: Mapping[str, Any], key: str, where: str, length: int) -> tuple[float, ...]:
    value = _get(raw, key, list, where)
    if len(value) != length or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in value
    ):
        raise InvalidManifest(f"'{where}{key}' in its manifest must be a list of {length} positive numbers")
    return tuple(float(v) for v in value)


def _like(raw: Mapping[str, Any], key: str, default: Any, where: str) -> Any:
    """A scalar field read with the type of its default."""
    if isinstance(default, bool):
        return _get(raw, key, bool, where, default)
    if isinstance(default, int):
        return _get(raw, key, int, where, default)
    if isinstance(default, float):
        return _number(raw, key, where, default)
    return _get(raw, key, str, where, default)


def _schema_major(raw: Mapping[str, Any]) -> int:
    value = raw.get("schema_version")
    if isinstance(value, bool) or value is None:
        raise InvalidManifest("its manifest has no schema_version")
    try:
        major = int(str(value).split(".")[0])
    except ValueError:
        raise InvalidManifest(f"its manifest has an unreadable schema_version '{value}'") from None
    if major > SCHEMA_VERSION:
        raise InvalidManifest(
            f"it needs a newer KneeSeg (manifest schema version {value}; this KneeSeg reads {SCHEMA_VERSION})"
        )
    if major < 1:
        raise InvalidManifest(f"its manifest schema version {value} is not valid")
    return major


def _parse_labels(raw: Mapping[str, Any]) -> dict[int, str]:
    labels: dict[int, str] = {}
    for key, name in _get(raw, "labels", dict, "").items():
        try:
            labels[int(key)] = str(name)
        except ValueError:
            raise InvalidManifest(f"its label '{key}' is not an integer") from None
    if labels.get(0, "").lower() != "background":
        raise InvalidManifest("its label 0 must be 'background'")
    if sorted(labels) != list(range(len(labels))):
        raise InvalidManifest("its labels must be numbered 0, 1, 2, ... without gaps")
    names = {n.lower() for n in labels.values()}
    if any(b not in names for b in REQUIRED_BONES):
        raise InvalidManifest(
            f"its labels {sorted(set(labels.values()) - {'background'})} are an unknown label scheme "
            f"(KneeSeg needs {' and '.join(REQUIRED_BONES)})"
        )
    return dict(sorted(labels.items()))


def _onnx_name(file: str) -> str:
    if Path(file).name != file or not file.lower().endswith(".onnx"):
        raise InvalidManifest(f"network file '{file}' must be a plain .onnx file name inside the package")
    return file


def _checked_sha(sha: str, file: str) -> str:
    sha = sha.lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise InvalidManifest(f"the sha256 of {file} in its manifest is not a 64-digit hex string")
    return sha


def _parse_networks(raw: Mapping[str, Any]) -> tuple[NetworkFile, ...]:
    items = _get(raw, "networks", list, "")
    if not items:
        raise InvalidManifest("its manifest lists no networks")
    networks = []
    for i, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise InvalidManifest("an entry of 'networks' in its manifest is not an object")
        _reject_unknown(item, NetworkFile, f"networks[{i}].")
        file = _onnx_name(_get(item, "file", str, "networks[]."))
        int8_file = _get(item, "int8_file", str, "networks[].", None)
        int8_sha = None
        if int8_file is not None:
            int8_sha = _checked_sha(_get(item, "int8_sha256", str, "networks[]."), _onnx_name(int8_file))
        fold = _get(item, "fold", (int, str), "networks[].", None)
        sha = _checked_sha(_get(item, "sha256", str, "networks[]."), file)
        networks.append(NetworkFile(file=file, sha256=sha, fold=fold, int8_file=int8_file, int8_sha256=int8_sha))
    return tuple(networks)


def _parse_input(raw: Mapping[str, Any]) -> InputSpec:
    sec, w = _section(raw, "input"), "input."
    dims = _get(sec, "dims", int, w)
    if dims not in (2, 3):
        raise InvalidManifest(f"'input.dims' must be 2 or 3, not {dims}")
    forward = _int_list(sec, "transpose_forward", w, 3, [0, 1, 2])
    backward = _int_list(sec, "transpose_backward", w, 3, [0, 1, 2])
    if sorted(forward) != [0, 1, 2] or [forward[b] for b in backward] != [0, 1, 2]:
        raise InvalidManifest("'input.transpose_backward' must undo 'input.transpose_forward'")
    patch = _int_list(sec, "patch_size", w, dims)
    divisibility = _int_list(sec, "divisibility", w, dims, [1] * dims)
    if any(p <= 0 for p in patch) or any(d <= 0 or p % d for p, d in zip(patch, divisibility)):
        raise InvalidManifest("'input.patch_size' must be positive multiples of 'input.divisibility'")
    channels = _get(sec, "channels", list, w, ["CT"])
    if len(channels) != 1:
        raise InvalidManifest(f"it expects {len(channels)} input channels; KneeSeg gives one CT channel")
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
    sec, w = _section(raw, "normalization"), "normalization."
    scheme = _get(sec, "scheme", str, w)
    if scheme.upper() != "CT":
        raise InvalidManifest(f"its normalization scheme '{scheme}' is not supported (only 'CT')")
    norm = Normalization(
        _number(sec, "lower", w), _number(sec, "upper", w), _number(sec, "mean", w), _number(sec, "std", w)
    )
    if not norm.lower < norm.upper or norm.std <= 0:
        raise InvalidManifest("its normalization needs lower < upper and a positive std")
    return norm


def _parse_resampling(raw: Mapping[str, Any]) -> Resampling:
    sec, w, d = _section(raw, "resampling", required=False), "resampling.", Resampling()
    values = {k: _like(sec, k, getattr(d, k), w) for k in known_keys(Resampling) if k != "force_separate_z"}
    if any(not 0 <= v <= 5 for k, v in values.items() if "order" in k):
        raise InvalidManifest("its resampling orders must be between 0 and 5")
    return Resampling(**values, force_separate_z=_get(sec, "force_separate_z", bool, w, None))


def _parse_inference(raw: Mapping[str, Any], dims: int) -> InferenceDefaults:
    sec, w = _section(raw, "inference", required=False), "inference."
    values: dict[str, Any] = {}
    for name in known_keys(InferenceDefaults):
        if name in ("mirror_axes", "roi_min_size"):
            continue
        values[name] = _like(sec, name, getattr(_INFERENCE, name), w)
        limit = LIMITS.get(name)
        if limit is not None and not limit.allows(values[name]):
            raise InvalidManifest(f"'inference.{name}' must be {limit.describe()}, not {values[name]!r}")
    mirror = _int_list(sec, "mirror_axes", w, None, [])
    if any(not 0 <= a < dims for a in mirror) or len(set(mirror)) != len(mirror):
        raise InvalidManifest(f"'inference.mirror_axes' must be distinct axes below {dims}")
    min_size = _int_list(sec, "roi_min_size", w, dims, []) if sec.get("roi_min_size") else ()
    return InferenceDefaults(**values, mirror_axes=mirror, roi_min_size=min_size)


def _parse_postprocessing(raw: Mapping[str, Any], labels: Mapping[int, str]) -> Postprocessing:
    sec = _section(raw, "postprocessing", required=False)
    largest = _int_list(sec, "largest_component", "postprocessing.", None, [])
    if any(label not in labels or label == 0 for label in largest):
        raise InvalidManifest("'postprocessing.largest_component' names labels the model does not have")
    fraction = _number(sec, "min_fraction", "postprocessing.", 0.0)
    if not 0 <= fraction <= 1:
        raise InvalidManifest("'postprocessing.min_fraction' must be between 0 and 1")
    rule = sec.get("rule", "largest")
    if rule not in POSTPROCESSING_RULES:
        raise InvalidManifest(f"'postprocessing.rule' must be one of {', '.join(POSTPROCESSING_RULES)}")
    if rule == "anatomy" and not {"femur", "tibia"} <= {n.lower() for n in labels.values()}:
        raise InvalidManifest("'postprocessing.rule' anatomy needs labels named femur and tibia")
    return Postprocessing(largest_component=largest, min_fraction=fraction, rule=rule)


POSTPROCESSING_RULES = ("largest", "anatomy")


def _optional_int(sec: Mapping[str, Any], key: str) -> int | None:
    value = sec.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _parse_training(raw: Mapping[str, Any]) -> TrainingInfo:
    sec = _section(raw, "training", required=False)
    texts = {k: str(sec.get(k, "")) for k in ("data", "seeds", "command")}
    synthetic = sec.get("synthetic") if isinstance(sec.get("synthetic"), bool) else None
    return TrainingInfo(**texts, synthetic=synthetic, cases=_optional_int(sec, "cases"))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _metric_map(sec: Mapping[str, Any], key: str, where: str) -> dict[str, float]:
    value = sec.get(key) or {}
    if not isinstance(value, Mapping) or not all(_is_number(v) for v in value.values()):
        raise InvalidManifest(f"'{where}{key}' in its manifest must map bone names to numbers")
    return {str(k): v for k, v in value.items()}


def _parse_validation(raw: Mapping[str, Any]) -> ValidationInfo:
    sec = _section(raw, "validation", required=False)
    maps = {k: _metric_map(sec, k, "validation.") for k in ("dice", "hd95_mm", "assd_mm", "demo_case_dice")}
    return ValidationInfo(cases=_optional_int(sec, "cases"), source=str(sec.get("source", "")), **maps)


def _parse_source(raw: Mapping[str, Any]) -> SourceInfo | None:
    if raw.get("source") is None:
        return None
    sec = _section(raw, "source")
    return SourceInfo(**{k: str(_get(sec, k, str, "source.", "")) for k in known_keys(SourceInfo)})


def _parse_checks(raw: Mapping[str, Any]) -> ChecksInfo:
    sec, w = _section(raw, "checks", required=False), "checks."
    per_image = {}
    for key in ("engine_vs_nnunet_dice", "int8_vs_float32_dice"):
        images = _get(sec, key, dict, w, {})
        per_image[key] = {str(image): _metric_map(images, image, f"{w}{key}.") for image in images}
    diff = _get(sec, "onnx_max_abs_diff", (int, float), w, None)
    return ChecksInfo(onnx_max_abs_diff=None if diff is None else float(diff), **per_image)


def _parse_stress(raw: Mapping[str, Any]) -> StressInfo:
    sec, w = _section(raw, "stress", required=False), "stress."
    maps = {k: _metric_map(sec, k, w) for k in ("worst_dice", "mean_dice", "worst_hd95_mm")}
    numbers = {k: _get(sec, k, (int, float), w, None) for k in ("negatives_max_ml", "seconds_median", "seconds_worst")}
    texts = {k: str(_get(sec, k, str, w, "")) for k in ("suite", "worst_row", "source")}
    return StressInfo(**maps, **numbers, **texts, cases=_optional_int(sec, "cases"), rows=_optional_int(sec, "rows"))


def parse_manifest(raw: Any) -> Manifest:
    """Validate a manifest's JSON object into a :class:`Manifest`; :class:`InvalidManifest` says why not."""
    if not isinstance(raw, Mapping):
        raise InvalidManifest("its manifest.json is not a JSON object")
    major = _schema_major(raw)
    _reject_unknown(raw, Manifest, "")
    name = _get(raw, "name", str, "").strip()
    if not name:
        raise InvalidManifest("its manifest has an empty name")
    family = _get(raw, "family", str, "")
    if family not in FAMILIES:
        raise InvalidManifest(f"its family '{family}' is unknown (known: {', '.join(FAMILIES)})")
    labels = _parse_labels(raw)
    spec = _parse_input(raw)
    if spec.dims != (3 if family.endswith("3d") else 2):
        raise InvalidManifest(f"its family '{family}' contradicts 'input.dims' = {spec.dims}")
    networks = _parse_networks(raw)
    inference = _parse_inference(raw, spec.dims)
    if inference.precision == "int8" and not all(n.int8_file for n in networks):
        raise InvalidManifest("'inference.precision' is 'int8' but not every network has an 'int8_file'")
    return Manifest(
        schema_version=major,
        name=name,
        version=str(_get(raw, "version", (str, int, float), "")),
        family=family,
        description=str(raw.get("description", "")),
        default=_get(raw, "default", bool, "", False),
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
        source=_parse_source(raw),
        recipe=dict(_get(raw, "recipe", dict, "", {})),
        checks=_parse_checks(raw),
        stress=_parse_stress(raw),
    )


def read_manifest(path: str | os.PathLike[str]) -> Manifest:
    """Read and validate a ``manifest.json`` file."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidManifest(f"its manifest.json is not valid JSON ({exc})") from exc
    return parse_manifest(raw)


# ----------------------------------------------------------------------------
# writing: dataclasses -> JSON, validated before the atomic write
# ----------------------------------------------------------------------------
_LEFT_OUT_WHEN_EMPTY = ("default", "source", "recipe", "checks", "stress")
"""Top-level fields written only when they say something."""


def _json_value(value: Any) -> Any:
    if is_dataclass(value):
        sparse = isinstance(value, (NetworkFile, ChecksInfo, StressInfo))  # optional parts of these are left out
        items = ((f.name, getattr(value, f.name)) for f in fields(value))
        return {k: _json_value(v) for k, v in items if not (sparse and v in (None, {}, (), ""))}
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    return value


def manifest_to_json(manifest: Manifest) -> dict[str, Any]:
    """The manifest as JSON data in the documented order (what :func:`parse_manifest` reads back)."""
    out = {}
    for name in known_keys(Manifest):
        value = _json_value(getattr(manifest, name))
        if name in _LEFT_OUT_WHEN_EMPTY and value in (False, None, {}):
            continue
        out[name] = value
    return out


def missing_network_files(folder: Path, manifest: Manifest) -> list[str]:
    """The network files (float32 and int8) the manifest names that are not in ``folder``."""
    return [f for n in manifest.networks for f in (n.file, n.int8_file) if f and not (folder / f).is_file()]


def write_manifest(folder: str | os.PathLike[str], manifest: Manifest) -> Path:
    """Write ``folder/manifest.json`` atomically, only after it passed the reader's own checks
    and every network file it names is in ``folder``: no writer can leave a package the app refuses."""
    folder = Path(folder)
    data = manifest_to_json(manifest)
    parse_manifest(data)
    missing = missing_network_files(folder, manifest)
    if missing:
        raise InvalidManifest(f"its network file {', '.join(missing)} is missing")
    text = json.dumps(data, indent=2) + "\n"
    return write_atomic(folder / MANIFEST, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def update_manifest(folder: str | os.PathLike[str], **changes: Any) -> Manifest:
    """Replace top-level fields (typed sections) of a package's manifest; validated, then written atomically."""
    manifest = replace(read_manifest(Path(folder) / MANIFEST), **changes)
    write_manifest(folder, manifest)
    return manifest
