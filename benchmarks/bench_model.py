"""The benchmark's model: an nnU-Net v2 results folder and the matching KneeSeg package.

Run:
  PYTHONPATH=. python benchmarks/bench_model.py results OUT_RESULTS [--weights PART ...] [--small]
  PYTHONPATH=. python benchmarks/bench_model.py export OUT_RESULTS OUT_PACKAGE [--int8] [--calibration N]
  PYTHONPATH=. python benchmarks/bench_model.py surrogate PACKAGE OUT_PACKAGE

``results`` writes what ``nnUNetv2_train`` leaves behind for one fold (plans.json,
dataset.json, fold_0/checkpoint_final.pth) with nnU-Net's *default-sized* 2D plans for
512 x 512 knee CT at 0.8 mm: 8 stages, 32..512 features, patch 512 x 512 (about 120
GFLOP per slice). Without ``--weights`` the network is randomly initialised with a
fixed seed (deterministic, untrained: good for timing and label parity, meaningless
for Dice against the ground truth); ``--weights`` takes the packed weights written by
``benchmarks/bench_train.py``.

``export`` is a small stand-in for ``kneeseg-train export`` (trainer/export.py): the
network is rebuilt from the plans with nnU-Net's ``get_network_from_plans``, deep
supervision off, and exported with ``torch.onnx.export`` (input 'input', output
'logits', dynamic batch and spatial axes); the manifest is filled from the plans.
``--int8`` adds a statically quantised copy of each network (calibrated on phantom
slices) that the engine runs when the manifest's ``inference.precision`` is 'int8'.

``--small`` plans a narrower configuration like the trainer's '2d_small' (16..256
features, 192 x 192 patch at 1 mm) for the end-to-end timing; ``surrogate`` grafts a
HU-threshold head onto a package's networks (full network cost, bone-like labels) so an
untrained network can be timed through the bone-window path (see graft_threshold_head).

Needs torch, nnunetv2 and onnx (the [train] extra); the app itself needs none of them.
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATASET = "Dataset901_KneeSegBench"
CONFIGURATION = "2d"
LABELS = {"background": 0, "femur": 1, "tibia": 2}
MIRROR_AXES = (0, 1)
TARGET_SPACING = (0.8, 0.8)
PATCH = (512, 512)
FEATURES = (32, 64, 128, 256, 512, 512, 512, 512)
# foreground (bone) intensities of the phantoms, as nnU-Net's fingerprint would record them;
# bench_train.py measures its own training set and writes them into the packed weights
DEFAULT_INTENSITIES = {"max": 3000.0, "mean": 520.0, "median": 420.0, "min": -200.0,
                       "percentile_00_5": 60.0, "percentile_99_5": 1930.0, "std": 525.0}
FAST_INFERENCE = {
    "roi": "bones", "roi_threshold_hu": 250.0, "roi_margin_mm": 24.0, "roi_slice_margin": 3,
    "skip_empty_slices": True, "resample_tolerance": 0.0, "slice_stride": 2, "slice_refine": 0.05,
}
"""The engine's fast defaults written into the benchmark package (docs/model-package.md)."""


# ----------------------------------------------------------------------------
# plans, dataset.json, checkpoint
# ----------------------------------------------------------------------------
def architecture(features: Sequence[int] = FEATURES) -> dict[str, Any]:
    """nnU-Net's PlainConvUNet entry of a 2D configuration (what ExperimentPlanner writes)."""
    n = len(features)
    return {
        "network_class_name": "dynamic_network_architectures.architectures.unet.PlainConvUNet",
        "arch_kwargs": {
            "n_stages": n,
            "features_per_stage": list(features),
            "conv_op": "torch.nn.modules.conv.Conv2d",
            "kernel_sizes": [[3, 3]] * n,
            "strides": [[1, 1]] + [[2, 2]] * (n - 1),
            "n_conv_per_stage": [2] * n,
            "n_conv_per_stage_decoder": [2] * (n - 1),
            "conv_bias": True,
            "norm_op": "torch.nn.modules.instancenorm.InstanceNorm2d",
            "norm_op_kwargs": {"eps": 1e-05, "affine": True},
            "dropout_op": None,
            "dropout_op_kwargs": None,
            "nonlin": "torch.nn.LeakyReLU",
            "nonlin_kwargs": {"inplace": True},
        },
        "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
    }


def default_2d_plans(
    intensities: dict[str, float] | None = None,
    features: Sequence[int] = FEATURES,
    patch: Sequence[int] = PATCH,
    spacing: Sequence[float] = TARGET_SPACING,
) -> dict[str, Any]:
    """nnU-Net v2 plans with the 2D configuration its planner makes for 512 x 512 CT at 0.8 mm."""
    configuration = {
        "data_identifier": "nnUNetPlans_2d",
        "preprocessor_name": "DefaultPreprocessor",
        "batch_size": 12,
        "patch_size": list(patch),
        "median_image_size_in_voxels": [512.0, 512.0],
        "spacing": list(spacing),
        "normalization_schemes": ["CTNormalization"],
        "use_mask_for_norm": [False],
        "resampling_fn_data": "resample_data_or_seg_to_shape",
        "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
        "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0, "force_separate_z": None},
        "architecture": architecture(features),
        "batch_dice": True,
    }
    return {
        "dataset_name": DATASET,
        "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": [1.0, *spacing],
        "original_median_shape_after_transp": [300, 512, 512],
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": [0, 1, 2],
        "transpose_backward": [0, 1, 2],
        "configurations": {CONFIGURATION: configuration},
        "experiment_planner_used": "ExperimentPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {"0": dict(intensities or DEFAULT_INTENSITIES)},
    }


def dataset_json(cases: int = 0) -> dict[str, Any]:
    return {"channel_names": {"0": "CT"}, "labels": dict(LABELS), "numTraining": cases, "file_ending": ".nii.gz"}


def build_network(plans: dict[str, Any], seed: int | None = 0) -> Any:
    """The configuration's network as nnU-Net builds it for inference (deep supervision off)."""
    import torch
    from nnunetv2.utilities.get_network_from_plans import get_network_from_plans

    arch = plans["configurations"][CONFIGURATION]["architecture"]
    if seed is not None:
        torch.manual_seed(seed)
    network = get_network_from_plans(
        arch["network_class_name"], arch["arch_kwargs"], arch["_kw_requires_import"], 1, len(LABELS),
        allow_init=True, deep_supervision=False,
    )
    return network.eval()


def unpack_weights(packed: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    """Weights written by bench_train.pack_weights: (state_dict, info) with int8 tensors dequantised."""
    import torch

    blob = torch.load(io.BytesIO(lzma.decompress(packed)), map_location="cpu", weights_only=False)
    state = {}
    for name, entry in blob["tensors"].items():
        if isinstance(entry, dict):
            scale = entry["scale"].reshape(-1, *([1] * (entry["q"].dim() - 1)))
            state[name] = entry["q"].to(torch.float32) * scale
        else:
            state[name] = entry.to(torch.float32)
    for name in list(state):
        if name.startswith("encoder."):
            state["decoder." + name] = state[name]  # the decoder references the encoder
    return state, blob.get("info", {})


def read_packed(paths: Sequence[Path]) -> bytes:
    """Concatenate the parts of a packed weights file (it comes back in pieces of < 16 MB)."""
    return b"".join(Path(p).read_bytes() for p in sorted(paths))


SMALL = {"features": (16, 32, 64, 128, 256, 256, 256), "patch": (192, 192), "spacing": (1.0, 1.0)}
"""A narrower 2D configuration like the one planned for the bundled model (trainer's '2d_small')."""


def write_results_folder(out: Path, weights: Sequence[Path] = (), seed: int = 0, small: bool = False) -> Path:
    """An nnU-Net results folder (one fold) loadable by ``nnUNetPredictor.initialize_from_trained_model_folder``."""
    import torch

    info: dict[str, Any] = {}
    state = None
    if weights:
        state, info = unpack_weights(read_packed(weights))
    if small:
        plans = default_2d_plans(info.get("intensities"), SMALL["features"], SMALL["patch"], SMALL["spacing"])
    else:
        plans = default_2d_plans(info.get("intensities"), tuple(info.get("features", FEATURES)))
    network = build_network(plans, seed)
    if state is not None:
        network.load_state_dict(state)
    out = Path(out)
    (out / "fold_0").mkdir(parents=True, exist_ok=True)
    (out / "plans.json").write_text(json.dumps(plans, indent=2))
    (out / "dataset.json").write_text(json.dumps(dataset_json(info.get("cases", 0)), indent=2))
    checkpoint = {
        "network_weights": network.state_dict(),
        "init_args": {"plans": plans, "configuration": CONFIGURATION, "fold": 0, "dataset_json": dataset_json(), "device": "cpu"},
        "trainer_name": "nnUNetTrainer",
        "inference_allowed_mirroring_axes": MIRROR_AXES,
        "current_epoch": info.get("epochs", 0),
        "optimizer_state": None,
        "grad_scaler_state": None,
        "logging": {},
        "_best_ema": None,
        "kneeseg_bench": {"trained": state is not None, **{k: v for k, v in info.items() if k != "intensities"}},
    }
    torch.save(checkpoint, out / "fold_0" / "checkpoint_final.pth")
    return out


# ----------------------------------------------------------------------------
# export to a KneeSeg model package
# ----------------------------------------------------------------------------
def load_results_network(results: Path, fold: int = 0) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    """(network with the fold's weights, plans, checkpoint) of an nnU-Net results folder."""
    import torch

    plans = json.loads((results / "plans.json").read_text(encoding="utf-8"))
    checkpoint = torch.load(results / f"fold_{fold}" / "checkpoint_final.pth", map_location="cpu", weights_only=False)
    network = build_network(plans, seed=None)
    network.load_state_dict(checkpoint["network_weights"])
    return network.eval(), plans, checkpoint


def export_onnx(network: Any, path: Path, patch: Sequence[int] = PATCH) -> None:
    """torch.onnx.export with the names and dynamic axes the KneeSeg engine expects."""
    import torch

    dummy = torch.zeros(1, 1, *patch)
    axes = {0: "batch", 2: "height", 3: "width"}
    with torch.no_grad():
        torch.onnx.export(
            network, dummy, str(path), input_names=["input"], output_names=["logits"],
            dynamic_axes={"input": axes, "logits": axes}, opset_version=17, dynamo=False,
        )


def calibration_slices(plans: dict[str, Any], count: int, seed: int = 900) -> list[np.ndarray]:
    """Normalised 512 x 512 phantom slices (network input) for int8 calibration."""
    from kneeseg_app.core.phantom import generate_phantom
    from kneeseg_app.core.preprocess import ct_normalize

    props = plans["foreground_intensity_properties_per_channel"]["0"]
    config = plans["configurations"][CONFIGURATION]
    spacing = config["spacing"]
    patch = config["patch_size"]
    size = [int(round(512 * 0.8 / s)) for s in spacing]
    phantom = generate_phantom(seed, shape_zyx=(max(count, 1) * 4, *size), spacing_zyx=(1.0, *spacing))
    picks = np.linspace(0, phantom.ct.shape[0] - 1, count).round().astype(int)
    slices = []
    for z in picks:
        plane = ct_normalize(phantom.ct.array[z].astype(np.float32), props["percentile_00_5"],
                             props["percentile_99_5"], props["mean"], props["std"])
        y0, x0 = [max((n - p) // 2, 0) for n, p in zip(plane.shape, patch)]
        slices.append(plane[None, None, y0 : y0 + patch[0], x0 : x0 + patch[1]].copy())
    return slices


def quantize_int8(fp32_path: Path, int8_path: Path, slices: Sequence[np.ndarray]) -> None:
    """Static int8 quantisation (QDQ, per-channel s8 weights, u8 activations) of the convolutions.

    The first convolution (one input channel) and the 1x1 segmentation head stay in
    float32: they cost almost nothing and the head's precision decides the argmax.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(slices)

        def get_next(self) -> dict[str, np.ndarray] | None:
            item = next(self.items, None)
            return None if item is None else {"input": item}

    pre = int8_path.with_suffix(".pre.onnx")
    quant_pre_process(str(fp32_path), str(pre), skip_symbolic_shape=True)
    model = onnx.load(str(pre))
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    exclude = [convs[0].name, convs[-1].name] if len(convs) > 1 else []
    quantize_static(
        str(pre), str(int8_path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        op_types_to_quantize=["Conv", "ConvTranspose"], nodes_to_exclude=exclude,
    )
    pre.unlink(missing_ok=True)


def manifest_from_plans(plans: dict[str, Any], checkpoint: dict[str, Any], name: str,
                        networks: list[dict[str, Any]], trained: bool) -> dict[str, Any]:
    """A schema-1 manifest with the plans' geometry, normalisation and resampling."""
    config = plans["configurations"][CONFIGURATION]
    props = plans["foreground_intensity_properties_per_channel"]["0"]
    strides = np.array(config["architecture"]["arch_kwargs"]["strides"])
    divisibility = [int(v) for v in np.prod(strides, axis=0)]
    mirror = [int(a) for a in checkpoint.get("inference_allowed_mirroring_axes") or ()]
    inference = {"tile_step_size": 0.5, "gaussian": True, "gaussian_sigma_scale": 0.125, "mirror_axes": mirror,
                 "default_tta": False, "batch_size": 4, **FAST_INFERENCE,
                 "precision": "int8" if any("int8_file" in n for n in networks) else "float32"}
    return {
        "schema_version": 1,
        "name": name,
        "version": "0.0.1",
        "family": "nnunet-2d",
        "description": ("nnU-Net default 2D network (benchmark stand-in, "
                        + ("trained briefly on phantoms" if trained else "untrained random weights") + ")"),
        "labels": {str(v): k for k, v in LABELS.items()},
        "networks": networks,
        "input": {
            "orientation": "LPS", "transpose_forward": plans["transpose_forward"],
            "transpose_backward": plans["transpose_backward"], "dims": 2,
            "patch_size": config["patch_size"], "target_spacing": config["spacing"],
            "divisibility": divisibility, "channels": ["CT"],
        },
        "normalization": {"scheme": "CT", "lower": props["percentile_00_5"], "upper": props["percentile_99_5"],
                          "mean": props["mean"], "std": props["std"]},
        "resampling": {
            "data_order": config["resampling_fn_data_kwargs"]["order"],
            "data_order_z": config["resampling_fn_data_kwargs"]["order_z"],
            "probabilities_order": config["resampling_fn_probabilities_kwargs"]["order"],
            "probabilities_order_z": config["resampling_fn_probabilities_kwargs"]["order_z"],
            "force_separate_z": None, "separate_z_anisotropy_threshold": 3.0,
        },
        "inference": inference,
        "postprocessing": {"largest_component": [1, 2]},
        "training": {"data": "synthetic knee phantoms" if trained else "none (random weights)",
                     "synthetic": True, "cases": checkpoint.get("kneeseg_bench", {}).get("cases", 0),
                     "command": "benchmarks/bench_train.py" if trained else "benchmarks/bench_model.py results"},
        "validation": {"cases": 0},
        "clinical_use": False,
        "license": "benchmark only",
    }


def export_package(results: Path, out: Path, int8: bool = False, calibration: int = 16, name: str | None = None) -> Path:
    """Write a KneeSeg model package for fold 0 of ``results``."""
    from kneeseg_app.core.modelpkg import file_sha256

    network, plans, checkpoint = load_results_network(results)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    onnx_file = out / "fold_0.onnx"
    export_onnx(network, onnx_file, plans["configurations"][CONFIGURATION]["patch_size"])
    entry: dict[str, Any] = {"file": onnx_file.name, "sha256": file_sha256(onnx_file), "fold": 0}
    if int8:
        int8_file = out / "fold_0.int8.onnx"
        quantize_int8(onnx_file, int8_file, calibration_slices(plans, calibration))
        entry.update(int8_file=int8_file.name, int8_sha256=file_sha256(int8_file))
    trained = bool(checkpoint.get("kneeseg_bench", {}).get("trained", True))
    manifest = manifest_from_plans(plans, checkpoint, name or f"bench-nnunet2d-{'trained' if trained else 'untrained'}",
                                   [entry], trained)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


def graft_threshold_head(model: Any, normalization: dict[str, float], femur_hu: float = 700.0, tibia_hu: float = 1300.0) -> Any:
    """``model`` with its logits replaced by a HU-threshold head's (plus 0 x its own logits).

    The network still runs in full (same FLOPs, same onnxruntime kernels), but the labels
    come from the CT's HU: femur for femur_hu..tibia_hu, tibia above, after a 3 x 3 mean.
    A timing surrogate for an untrained network: an untrained network labels noise
    everywhere, which makes the engine's bone-window safeguards re-run whole planes.
    """
    from onnx import TensorProto, helper, numpy_helper

    graph = model.graph
    for node in graph.node:
        node.output[:] = ["unet_logits" if o == "logits" else o for o in node.output]
    graph.output.pop()
    mean, std = normalization["mean"], normalization["std"]
    t1, t2, slope = (femur_hu - mean) / std, (tibia_hu - mean) / std, 8.0
    weights = {
        "thr_smooth": np.full((1, 1, 3, 3), 1.0 / 9.0, dtype=np.float32),
        "thr_head_w": np.array([0.0, slope, 2 * slope], dtype=np.float32).reshape(3, 1, 1, 1),
        "thr_head_b": np.array([0.0, -slope * t1, -slope * (t1 + t2)], dtype=np.float32),
        "thr_zero": np.zeros((1,), dtype=np.float32),
    }
    graph.initializer.extend(numpy_helper.from_array(v, name=k) for k, v in weights.items())
    graph.node.extend([
        helper.make_node("Conv", ["input", "thr_smooth"], ["thr_s"], pads=[1, 1, 1, 1], kernel_shape=[3, 3], name="thr_conv1"),
        helper.make_node("Conv", ["thr_s", "thr_head_w", "thr_head_b"], ["thr_logits"], kernel_shape=[1, 1], name="thr_conv2"),
        helper.make_node("Mul", ["unet_logits", "thr_zero"], ["unet_zero"], name="thr_mul"),
        helper.make_node("Add", ["thr_logits", "unet_zero"], ["logits"], name="thr_add"),
    ])
    graph.output.append(helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3, "height", "width"]))
    return model


def timing_surrogate(package: Path, out: Path) -> Path:
    """A copy of ``package`` whose networks carry a HU-threshold head (see graft_threshold_head)."""
    import onnx

    from kneeseg_app.core.modelpkg import file_sha256

    manifest = json.loads((package / "manifest.json").read_text(encoding="utf-8"))
    out.mkdir(parents=True, exist_ok=True)
    for entry in manifest["networks"]:
        for key, sha in (("file", "sha256"), ("int8_file", "int8_sha256")):
            if entry.get(key):
                model = graft_threshold_head(onnx.load(str(package / entry[key])), manifest["normalization"])
                onnx.save(model, str(out / entry[key]))
                entry[sha] = file_sha256(out / entry[key])
    manifest["name"] += "-timing-surrogate"
    manifest["description"] = "timing surrogate: the network's full cost, labels from a HU threshold"
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    res = sub.add_parser("results", help="write an nnU-Net results folder (untrained, or with packed weights)")
    res.add_argument("out", type=Path)
    res.add_argument("--weights", type=Path, nargs="*", default=(), help="packed weight parts from bench_train.py")
    res.add_argument("--seed", type=int, default=0)
    res.add_argument("--small", action="store_true", help="the narrower 2D configuration (16..256 features, 192 patch, 1 mm)")
    exp = sub.add_parser("export", help="export fold 0 of a results folder to a KneeSeg model package")
    exp.add_argument("results", type=Path)
    exp.add_argument("out", type=Path)
    exp.add_argument("--int8", action="store_true", help="add statically quantised int8 networks")
    exp.add_argument("--calibration", type=int, default=16, help="phantom slices for int8 calibration")
    exp.add_argument("--name")
    sur = sub.add_parser("surrogate", help="a timing surrogate of a package (HU-threshold labels, full network cost)")
    sur.add_argument("package", type=Path)
    sur.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    if args.command == "results":
        print(write_results_folder(args.out, args.weights, args.seed, args.small))
    elif args.command == "export":
        print(export_package(args.results, args.out, args.int8, args.calibration, args.name))
    else:
        print(timing_surrogate(args.package, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
