"""The manifest: strict in (a typo is refused, named, with the closest key), validated out,
one set of option limits for the manifest and the engine, and a document that names every field."""

from __future__ import annotations

import json
import re
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from onnx_factory import threshold_manifest, write_model_package

from kneeseg_app.core.errors import InputError
from kneeseg_app.core.inference.settings import SegmentOptions, resolve_settings
from kneeseg_app.core.model.manifest import (
    manifest_to_json,
    parse_manifest,
    read_manifest,
    update_manifest,
    write_manifest,
)
from kneeseg_app.core.model.package import ModelPackageError, load_model_package
from kneeseg_app.core.model.schema import (
    LIMITS,
    SECTIONS,
    SPEED_OPTIONS,
    InferenceDefaults,
    InvalidManifest,
    Manifest,
    ValidationInfo,
    known_keys,
)

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "model-package.md"
BUNDLED = REPO / "resources" / "models" / "kneeseg-demo-nnunet2d"
SHA = "0" * 64


def valid_json() -> dict[str, Any]:
    return manifest_to_json(threshold_manifest("m", [("fold_0.onnx", SHA)]))


def refusal(raw: dict[str, Any]) -> str:
    with pytest.raises(InvalidManifest) as info:
        parse_manifest(raw)
    return info.value.reason


# ----- strict parsing --------------------------------------------------------------------------------------------
def test_a_misspelt_key_is_refused_naming_it_its_section_and_the_closest_key() -> None:
    raw = valid_json()
    raw["inference"]["skip_empty_slice"] = True
    assert refusal(raw) == (
        "its manifest.json has an unknown key 'inference.skip_empty_slice' (did you mean 'skip_empty_slices'?)"
    )


def test_a_misspelt_section_is_refused_too() -> None:
    raw = valid_json()
    raw["infrence"] = raw.pop("inference")
    assert "unknown key 'infrence' (did you mean 'inference'?)" in refusal(raw)


@pytest.mark.parametrize(
    ("section", "key", "closest"),
    [
        ("input", "patchsize", "patch_size"),
        ("normalization", "sdt", "std"),
        ("resampling", "data_ordr", "data_order"),
        ("postprocessing", "largest_components", "largest_component"),
        ("training", "case", "cases"),
        ("validation", "hd95", "hd95_mm"),
        ("checks", "onnx_max_diff", "onnx_max_abs_diff"),
        ("source", "dataset_name", "dataset"),
    ],
)
def test_every_section_is_strict(section: str, key: str, closest: str) -> None:
    raw = valid_json()
    raw.setdefault(section, {})[key] = 1
    assert f"unknown key '{section}.{key}' (did you mean '{closest}'?)" in refusal(raw)


def test_a_network_entry_is_strict_and_named_by_its_index() -> None:
    raw = valid_json()
    raw["networks"][0]["int8file"] = "fold_0.int8.onnx"
    assert "unknown key 'networks[0].int8file' (did you mean 'int8_file'?)" in refusal(raw)


def test_a_key_like_none_lists_the_known_keys() -> None:
    raw = valid_json()
    raw["normalization"]["zzz"] = 1
    assert "known keys: lower, upper, mean, std, scheme" in refusal(raw)


def test_free_maps_stay_free() -> None:
    """Label names, per-bone maps, per-image checks and the trainer's recipe have no fixed keys."""
    raw = valid_json()
    raw["validation"]["dice"]["patella"] = 0.5
    raw["recipe"] = {"anything": {"the": "trainer wants"}}
    raw["checks"] = {"int8_vs_float32_dice": {"any image.nii.gz": {"femur": 0.99}}}
    manifest = parse_manifest(raw)
    assert manifest.recipe["anything"] == {"the": "trainer wants"}
    assert manifest.checks.int8_vs_float32_dice["any image.nii.gz"]["femur"] == 0.99


def test_a_package_with_a_misspelt_key_is_refused_by_the_loader(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m", inference={"tile_step_size": 0.5, "skip_empty_slice": True})
    with pytest.raises(ModelPackageError, match=r"unknown key 'inference\.skip_empty_slice'") as info:
        load_model_package(folder)
    assert str(info.value).startswith(f"The model at {folder}")


# ----- one set of limits --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "bad"),
    [("slice_stride", 5), ("resample_tolerance", 0.5), ("roi", "everything"), ("tile_step_size", 0.0)],
)
def test_the_manifest_and_the_engine_refuse_the_same_values_with_the_same_words(option: str, bad: Any) -> None:
    raw = valid_json()
    raw["inference"][option] = bad
    described = LIMITS[option].describe()
    assert f"'inference.{option}' must be {described}" in refusal(raw)
    manifest = parse_manifest(valid_json())
    with pytest.raises(InputError, match=re.escape(f"must be {described}")):
        resolve_settings(manifest, SegmentOptions(**{option: bad}))


def test_an_exact_run_uses_the_schema_defaults_of_every_speed_option() -> None:
    fast = replace(parse_manifest(valid_json()), inference=InferenceDefaults(roi="bones", slice_stride=2))
    settings = resolve_settings(fast, SegmentOptions(exact=True))
    assert {k: getattr(settings, k) for k in SPEED_OPTIONS} == {
        k: getattr(InferenceDefaults(), k) for k in SPEED_OPTIONS
    }


# ----- writing --------------------------------------------------------------------------------------------------
def test_what_is_written_reads_back_as_the_same_manifest() -> None:
    manifest = threshold_manifest("m", [("fold_0.onnx", SHA)])
    assert parse_manifest(json.loads(json.dumps(manifest_to_json(manifest)))) == manifest
    bundled = read_manifest(BUNDLED / "manifest.json")
    assert parse_manifest(json.loads(json.dumps(manifest_to_json(bundled)))) == bundled


def test_an_invalid_manifest_is_never_written(tmp_path: Path) -> None:
    (tmp_path / "fold_0.onnx").write_bytes(b"x")
    manifest = threshold_manifest("m", [("fold_0.onnx", SHA)])
    with pytest.raises(InvalidManifest, match="unknown label scheme"):
        write_manifest(tmp_path, replace(manifest, labels={0: "background", 1: "liver"}))
    with pytest.raises(InvalidManifest, match="fold_1.onnx is missing"):
        write_manifest(tmp_path, threshold_manifest("m", [("fold_1.onnx", SHA)]))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fold_0.onnx"]


def test_update_validates_before_it_writes(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    before = (folder / "manifest.json").read_bytes()
    bad = replace(load_model_package(folder).manifest.inference, roi="everything")
    with pytest.raises(InvalidManifest, match="'inference.roi' must be one of none, bones"):
        update_manifest(folder, inference=bad)
    assert (folder / "manifest.json").read_bytes() == before
    assert sorted(p.name for p in folder.iterdir()) == ["fold_0.onnx", "manifest.json"]
    update_manifest(folder, validation=ValidationInfo(cases=3, dice={"femur": 0.9, "tibia": 0.8}))
    assert load_model_package(folder).manifest.validation.cases == 3


# ----- the document -----------------------------------------------------------------------------------------------
def doc_example() -> dict[str, Any]:
    """The manifest.json example of docs/model-package.md, its // comments removed."""
    text = DOC.read_text(encoding="utf-8")
    block = text.split("```jsonc\n", 1)[1].split("```", 1)[0]
    lines = []
    for line in block.splitlines():
        in_string, cut = False, len(line)
        for i, char in enumerate(line):
            if char == '"' and (i == 0 or line[i - 1] != "\\"):
                in_string = not in_string
            elif not in_string and line.startswith("//", i):
                cut = i
                break
        lines.append(line[:cut])
    return json.loads("\n".join(lines).replace("<64 hex>", SHA))


def test_the_documented_example_parses_with_the_strict_parser() -> None:
    manifest = parse_manifest(doc_example())
    assert manifest.inference.precision == "int8" and manifest.networks[0].int8_file == "fold_0.int8.onnx"


def _missing(example: Any, schema: type, where: str) -> list[str]:
    missing = []
    for f in fields(schema):
        if f.name not in example:
            missing.append(where + f.name)
        elif f.name in SECTIONS and is_dataclass(SECTIONS[f.name]) and schema is Manifest:
            entry = example[f.name][0] if f.name == "networks" else example[f.name]
            missing += _missing(entry, SECTIONS[f.name], f"{f.name}.")
    return missing


def test_every_field_the_parser_knows_is_in_the_documented_example() -> None:
    assert _missing(doc_example(), Manifest, "") == []
    assert set(SECTIONS) <= set(known_keys(Manifest))
