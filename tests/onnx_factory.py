"""Tiny, real ONNX networks and model packages for tests (built with ``onnx.helper``).

The "threshold" network segments by HU, so its output is checkable by hand:

* a k x k (x k) mean filter (zero padding, like a U-Net's first convolution), then
* a 1x1 convolution to three logits: background 0, femur ``s(x - t1)``,
  tibia ``2s(x - t2) + s(t2 - t1)``, where x is the normalised CT.

So after the argmax a voxel is femur where ``t1 < x < t2`` and tibia where ``x > t2``
(t1, t2 given in HU). The mean filter makes tile borders and padding matter, so the
sliding window has to be right for the result to match nnU-Net's. ``torch_twin``
builds the same network in torch for comparisons with nnU-Net's predictor.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from kneeseg_app.core.model.manifest import manifest_to_json, write_manifest
from kneeseg_app.core.model.schema import (
    InferenceDefaults,
    InputSpec,
    Manifest,
    NetworkFile,
    Normalization,
    Postprocessing,
    TrainingInfo,
    ValidationInfo,
)

NORMALIZATION = {"scheme": "CT", "lower": -1000.0, "upper": 2000.0, "mean": 300.0, "std": 500.0}
FEMUR_HU = 300.0
TIBIA_HU = 900.0
OPSET = 17


def _norm(hu: float, normalization: dict[str, float] = NORMALIZATION) -> float:
    return (hu - normalization["mean"]) / normalization["std"]


def threshold_weights(
    dims: int = 2,
    kernel: int = 3,
    femur_hu: float = FEMUR_HU,
    tibia_hu: float = TIBIA_HU,
    slope: float = 8.0,
    normalization: dict[str, float] = NORMALIZATION,
    asymmetric: bool = False,
) -> dict[str, np.ndarray]:
    """The weights of the threshold network (shared by the ONNX and the torch twin).

    ``asymmetric`` makes the smoothing kernel lopsided (a ramp), so a flipped or
    transposed input gives a different output: orientation mistakes become visible.
    """
    t1, t2 = _norm(femur_hu, normalization), _norm(tibia_hu, normalization)
    shape = (1, 1) + (kernel,) * dims
    smooth = np.ones(shape, dtype=np.float64)
    if asymmetric:
        ramp = np.arange(1, kernel**dims + 1, dtype=np.float64) ** 2
        smooth = ramp.reshape(shape)
    return {
        "smooth_w": (smooth / smooth.sum()).astype(np.float32),
        "head_w": np.array([0.0, slope, 2 * slope], dtype=np.float32).reshape((3, 1) + (1,) * dims),
        "head_b": np.array([0.0, -slope * t1, -slope * (t1 + t2)], dtype=np.float32),
    }


def threshold_network(dims: int = 2, hidden: int = 0, **kwargs: Any) -> onnx.ModelProto:
    """Conv(mean filter) -> Conv 1x1 -> three logits; dynamic batch and spatial sizes.

    ``hidden`` > 0 puts that many 1x1 identity convolutions between the two (same
    labels): layers that int8 quantisation, which keeps the first and the last
    convolution in float32, really quantises.
    """
    weights = threshold_weights(dims, **kwargs)
    kernel = weights["smooth_w"].shape[-1]
    spatial = [f"s{i}" for i in range(dims)]
    nodes = [
        helper.make_node(
            "Conv", ["input", "smooth_w"], ["smooth"], pads=[kernel // 2] * (2 * dims), kernel_shape=[kernel] * dims
        ),
    ]
    previous = "smooth"
    for i in range(hidden):
        weights[f"hidden_w{i}"] = np.ones((1, 1) + (1,) * dims, dtype=np.float32)
        nodes.append(helper.make_node("Conv", [previous, f"hidden_w{i}"], [f"hidden{i}"], kernel_shape=[1] * dims))
        previous = f"hidden{i}"
    nodes.append(helper.make_node("Conv", [previous, "head_w", "head_b"], ["logits"], kernel_shape=[1] * dims))
    return _model(nodes, weights, dims, 3, spatial)


def slow_network(dims: int = 2, channels: int = 48, layers: int = 12, n_labels: int = 3) -> onnx.ModelProto:
    """A deliberately expensive network (for cancellation tests); its output is meaningless."""
    rng = np.random.default_rng(0)
    weights: dict[str, np.ndarray] = {}
    nodes = []
    previous, width = "input", 1
    k = (3,) * dims
    for i in range(layers):
        name = f"w{i}"
        weights[name] = (rng.standard_normal((channels, width, *k)) * 0.05).astype(np.float32)
        nodes.append(helper.make_node("Conv", [previous, name], [f"c{i}"], pads=[1] * (2 * dims), kernel_shape=list(k)))
        nodes.append(helper.make_node("Relu", [f"c{i}"], [f"r{i}"]))
        previous, width = f"r{i}", channels
    weights["head"] = (rng.standard_normal((n_labels, width) + (1,) * dims) * 0.05).astype(np.float32)
    nodes.append(helper.make_node("Conv", [previous, "head"], ["logits"], kernel_shape=[1] * dims))
    return _model(nodes, weights, dims, n_labels, [f"s{i}" for i in range(dims)])


def renamed_input_network(dims: int = 2) -> onnx.ModelProto:
    """A valid network whose input is called 'x' (a foreign model)."""
    model = threshold_network(dims)
    graph = model.graph
    graph.input[0].name = "x"
    for node in graph.node:
        node.input[:] = ["x" if i == "input" else i for i in node.input]
    return model


def _model(
    nodes: list, weights: dict[str, np.ndarray], dims: int, n_out: int, spatial: Sequence[str]
) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "kneeseg-test",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["n", 1, *spatial])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["n", n_out, *spatial])],
        initializer=[numpy_helper.from_array(v, name=k) for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="kneeseg-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def threshold_manifest(
    name: str,
    files: Sequence[tuple[str, str]],
    dims: int = 2,
    patch_size: Sequence[int] = (64, 64),
    target_spacing: Sequence[float] = (1.0, 1.0),
    mirror_axes: Sequence[int] = (0, 1),
) -> Manifest:
    """A complete manifest for the threshold networks ``files`` ((name, sha256) pairs), built as the
    trainer builds one (the schema's own dataclasses)."""
    return Manifest(
        name=name,
        version="0.0.1",
        family="nnunet-2d" if dims == 2 else "nnunet-3d",
        description="tiny threshold network for tests",
        labels={0: "background", 1: "femur", 2: "tibia"},
        networks=tuple(NetworkFile(file=f, sha256=sha, fold=i) for i, (f, sha) in enumerate(files)),
        input=InputSpec(
            dims=dims,
            patch_size=tuple(patch_size),
            target_spacing=tuple(float(s) for s in target_spacing),
            divisibility=(8,) * dims,
        ),
        normalization=Normalization(**NORMALIZATION),
        inference=InferenceDefaults(mirror_axes=tuple(mirror_axes)),
        postprocessing=Postprocessing(largest_component=(1, 2)),
        training=TrainingInfo(data="none (hand-set weights)", synthetic=True, cases=0),
        validation=ValidationInfo(cases=0, dice={"femur": 1.0, "tibia": 1.0}),
        license="test",
    )


def write_model_package(
    folder: Path,
    name: str = "test-threshold-2d",
    networks: Sequence[onnx.ModelProto] | None = None,
    dims: int = 2,
    **manifest_args: Any,
) -> Path:
    """Write a package folder (ONNX files + manifest with their checksums); returns it.

    ``patch_size``, ``target_spacing`` and ``mirror_axes`` go to :func:`threshold_manifest`; any
    other keyword replaces that top-level key of the JSON as given (unvalidated, so a test can
    write a manifest the app must refuse)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    networks = list(networks) if networks is not None else [threshold_network(dims)]
    files = []
    for i, model in enumerate(networks):
        data = model.SerializeToString()
        (folder / f"fold_{i}.onnx").write_bytes(data)
        files.append((f"fold_{i}.onnx", hashlib.sha256(data).hexdigest()))
    own = {k: manifest_args.pop(k) for k in ("patch_size", "target_spacing", "mirror_axes") if k in manifest_args}
    manifest = threshold_manifest(name, files, dims=dims, **own)
    if not manifest_args:
        write_manifest(folder, manifest)  # validated, as every writer of manifests is
        return folder
    raw = manifest_to_json(manifest) | manifest_args  # raw top-level keys: possibly invalid on purpose
    (folder / "manifest.json").write_text(json.dumps(raw, indent=2), encoding="utf-8")
    return folder


def edit_manifest(folder: Path, **changes: Any) -> None:
    """Change top-level manifest keys in place (``None`` deletes a key)."""
    path = Path(folder) / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            manifest.pop(key, None)
        else:
            manifest[key] = value
    path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def torch_twin(dims: int = 2, **kwargs: Any) -> Any:
    """The threshold network in torch (needs torch; for nnU-Net comparisons only)."""
    import torch
    from torch import nn

    weights = threshold_weights(dims, **kwargs)
    conv = nn.Conv2d if dims == 2 else nn.Conv3d
    kernel = weights["smooth_w"].shape[-1]
    smooth = conv(1, 1, kernel, padding=kernel // 2, bias=False)
    head = conv(1, 3, 1)
    with torch.no_grad():
        smooth.weight.copy_(torch.from_numpy(weights["smooth_w"]))
        head.weight.copy_(torch.from_numpy(weights["head_w"]))
        head.bias.copy_(torch.from_numpy(weights["head_b"]))
    return nn.Sequential(smooth, head).eval()


def expected_labels_from_hu(hu: np.ndarray, femur_hu: float = FEMUR_HU, tibia_hu: float = TIBIA_HU) -> np.ndarray:
    """What the threshold network gives on a volume that needs no resampling or smoothing."""
    out = np.zeros(hu.shape, dtype=np.uint8)
    out[(hu > femur_hu) & (hu <= tibia_hu)] = 1
    out[hu > tibia_hu] = 2
    return out
