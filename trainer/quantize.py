"""Add int8 copies of a model package's networks (what the engine runs with precision 'int8').

Static quantisation with onnxruntime: QDQ format, per-channel int8 weights, uint8
activations, activation ranges calibrated (min/max) on the patches the network really
sees: CT slices of the given images normalised, resampled and cut to the patch size
exactly as the engine prepares them. Static QDQ is what onnxruntime's CPU kernels run
fastest (AVX-512 VNNI / AVX-VNNI); dynamic quantisation would re-measure every
activation at run time. The first convolution (one input channel) and the last one
(the segmentation head) stay float32: they cost almost nothing, and the head's
precision decides the argmax.

The package is only changed when the int8 networks are known to be good: they are
written into a hidden staging folder inside the package, checked there (optionally
against the float32 networks on a CT, with the app's own engine), and only then moved
beside the float32 files and recorded in manifest.json (``int8_file``,
``int8_sha256``). A failed step raises and leaves the package exactly as it was.
The manifest's ``inference.precision`` is not changed: int8 stays an opt-in.

A little over 400 lines on purpose: calibration, quantisation and the check that decides
whether the package changes belong together (nothing is written unless all three agree).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from kneeseg_app.core.errors import InputError, OutputError
from kneeseg_app.core.model.manifest import update_manifest, write_manifest
from kneeseg_app.core.model.package import ModelPackage, file_sha256, load_model_package
from kneeseg_app.core.model.schema import ChecksInfo, Manifest, NetworkFile
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress, scaled
from kneeseg_app.core.volume import Volume
from trainer.errors import QuantizationError

DEFAULT_COUNT = 32
"""Calibration patches in all (min/max calibration settles within a few dozen patches)."""
QUANTIZED_OPS = ("Conv", "ConvTranspose")


@dataclass
class QuantizeResult:
    package: Path
    files: dict[str, str]
    """float32 network file -> its int8 file."""
    sizes: dict[str, tuple[int, int]]
    """float32 network file -> (its bytes, the int8 file's bytes)."""
    patches: int
    dice: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0

    def text(self) -> str:
        lines = [f"int8 networks added to {self.package} (calibrated on {self.patches} patches):"]
        for name, int8 in self.files.items():
            fp32_bytes, int8_bytes = self.sizes[name]
            lines.append(f"  {name} ({_size(fp32_bytes)}) -> {int8} ({_size(int8_bytes)})")
        for image, dice in self.dice.items():
            scores = ", ".join(f"{bone} {value:.4f}" for bone, value in dice.items())
            lines.append(f"Check, int8 vs float32 labels on {image}: Dice {scores}.")
        if not self.dice:
            lines.append("Not checked against float32 (no check image).")
        return "\n".join(lines)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.1f} kB" if n >= 1e3 else f"{n} bytes"


def quantize_package(
    package_dir: str | os.PathLike[str],
    calibration_images: Sequence[str | os.PathLike[str]],
    count: int = DEFAULT_COUNT,
    check_image: str | os.PathLike[str] | None = None,
    max_dice_loss: float = 0.002,
    threads: int | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> QuantizeResult:
    """Quantise every network of the package, check, then record the int8 files (see the module doc).

    ``count`` calibration patches are shared out over ``calibration_images`` (CT files or
    DICOM folders). With ``check_image`` the engine segments it at both precisions and
    any bone whose Dice falls below ``1 - max_dice_loss`` refuses the int8 networks.
    """
    started = time.perf_counter()
    _check_arguments(calibration_images, count, max_dice_loss, check_image)
    package = load_model_package(package_dir)
    package.verify()  # quantise the networks the manifest vouches for, nothing else
    progress("Reading calibration images", 0.0)
    patches = calibration_patches(calibration_images, package.manifest, count, cancel)
    staging = _staging_folder(package.path)
    try:
        networks = _quantize_all(package, staging, patches, scaled(progress, 0.1, 0.6), cancel)
        _link_float_networks(package.path, staging, networks)
        write_manifest(staging, replace(package.manifest, networks=networks))
        staged = load_model_package(staging)  # the app's own loader accepts the new package
        dice = {}
        if check_image is not None:
            progress("Checking int8 against float32", 0.6)
            dice = {
                Path(check_image).name: check_int8(
                    staged, check_image, max_dice_loss, threads, scaled(progress, 0.6, 0.98), cancel
                )
            }
        _install(staging, package.path, networks, replace(package.manifest.checks, int8_vs_float32_dice=dice))
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    progress("Quantised", 1.0)
    sizes = {
        n.file: ((package.path / n.file).stat().st_size, (package.path / n.int8_file).stat().st_size) for n in networks
    }
    return QuantizeResult(
        package.path,
        {n.file: str(n.int8_file) for n in networks},
        sizes,
        len(patches),
        dice,
        time.perf_counter() - started,
    )


def _check_arguments(images: Sequence[Any], count: int, max_dice_loss: float, check_image: Any) -> None:
    if not images:
        raise QuantizationError("Quantisation needs at least one CT image for calibration.")
    if count < 1:
        raise QuantizationError(f"The number of calibration patches must be at least 1, not {count}.")
    if not 0 <= max_dice_loss < 1:
        raise QuantizationError(f"The largest Dice loss must be between 0 and 1, not {max_dice_loss}.")
    if check_image is not None and not Path(check_image).exists():  # found out now, not after quantising
        raise InputError(f"The check image {check_image} does not exist.")


def _staging_folder(package: Path) -> Path:
    """A hidden folder inside the package: same file system, so the int8 files move in atomically."""
    try:
        return Path(tempfile.mkdtemp(prefix=".quantize-", suffix=".part", dir=package))
    except OSError as exc:
        raise OutputError(f"Cannot write into the package {package} ({exc.strerror or exc}).") from exc


def int8_name(file: str) -> str:
    """``fold_0.onnx`` -> ``fold_0.int8.onnx`` (beside its float32 network)."""
    return f"{Path(file).stem}.int8.onnx"


def _quantize_all(
    package: ModelPackage,
    staging: Path,
    patches: Sequence[np.ndarray],
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> tuple[NetworkFile, ...]:
    """Each network quantised into ``staging``; the manifest's network entries with their int8 files."""
    entries = package.manifest.networks
    networks = []
    for i, entry in enumerate(entries):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(f"Quantising {entry.file}", i / len(entries))
        out = staging / int8_name(entry.file)
        quantize_network(package.path / entry.file, out, patches)
        networks.append(replace(entry, int8_file=out.name, int8_sha256=file_sha256(out)))
    return tuple(networks)


# ----- calibration data ---------------------------------------------------------------------------------------


def calibration_patches(
    images: Sequence[str | os.PathLike[str]], manifest: Manifest, count: int, cancel: CancelToken | None = None
) -> list[np.ndarray]:
    """``count`` network inputs (1, 1, *patch) from the images, shared out as evenly as possible."""
    from kneeseg_app.core.imageio import open_volume

    shares = [count // len(images) + (i < count % len(images)) for i in range(len(images))]
    patches: list[np.ndarray] = []
    for image, share in zip(images, shares):
        if share:
            patches += volume_patches(open_volume(image, cancel=cancel), manifest, share, cancel)
    return patches


def volume_patches(
    volume: Volume, manifest: Manifest, count: int, cancel: CancelToken | None = None
) -> list[np.ndarray]:
    """Up to ``count`` patches of one CT, prepared as the engine prepares it, on the bones.

    The slices are spread over those where the engine's bone-window pass finds bone
    (where int8 networks run; all slices when it finds none); each slice gives the
    patches that cover its bone box (two for a scan of both knees). 2D networks: only
    the chosen slices are normalised and resampled in-plane; 3D networks: the whole
    volume, then patches around the chosen slices.
    """
    from kneeseg_app.core.inference.fast.roi import bone_boxes
    from kneeseg_app.core.inference.plan import plan_case
    from kneeseg_app.core.inference.preprocess import (
        bbox_slices,
        ct_normalize,
        normalized_range,
        pad_to_min_shape,
        resample_to_shape,
        resize_slices,
    )

    plan = plan_case(volume, manifest)
    view = plan.network_view(volume.array)[bbox_slices(plan.crop)]
    n, res, patch = manifest.normalization, manifest.resampling, tuple(manifest.input.patch_size)
    boxes = bone_boxes(view, plan.spacing[1:], manifest.inference.roi_threshold_hu, cancel)
    picks = spread(np.array([i for i, b in enumerate(boxes) if b is not None], dtype=int), len(boxes), count)
    scale = [r / c for r, c in zip(plan.resampled_shape, plan.cropped_shape)]
    if manifest.input.dims == 2:
        clip = None if plan.data_separate[0] else normalized_range(view, n.lower, n.upper, n.mean, n.std)
        planes = ct_normalize(np.array(view[picks], dtype=np.float32), n.lower, n.upper, n.mean, n.std)
        padded, unpad = pad_to_min_shape(
            resize_slices(planes, plan.resampled_shape[1:], res.data_order, clip=clip), patch
        )
        tiles = [
            cut(padded[i], patch, centre)
            for i, z in enumerate(picks)
            for centre in _bone_tiles(boxes[z], padded.shape, scale, unpad, patch)
        ]
    else:
        normalized = ct_normalize(np.array(view, dtype=np.float32), n.lower, n.upper, n.mean, n.std)
        resampled = resample_to_shape(
            normalized[None],
            plan.resampled_shape,
            plan.spacing,
            plan.target_spacing,
            res.data_order,
            res.data_order_z,
            res.force_separate_z,
            res.separate_z_anisotropy_threshold,
        )[0]
        del normalized
        padded, unpad = pad_to_min_shape(resampled, patch)
        tiles = [
            cut(padded, patch, ((z + 0.5) * scale[0] + unpad[0].start, *centre))
            for z in picks
            for centre in _bone_tiles(boxes[z], padded.shape, scale, unpad, patch)
        ]
    return [tiles[i][None, None] for i in spread(np.arange(len(tiles)), len(tiles), count)]


def spread(candidates: np.ndarray, total: int, count: int) -> np.ndarray:
    """Up to ``count`` indices evenly spread over ``candidates`` (over all ``total`` when there are none)."""
    pool = candidates if len(candidates) else np.arange(total)
    return np.unique(pool[np.linspace(0, len(pool) - 1, count).round().astype(int)])


def _bone_tiles(
    box: tuple[int, int, int, int] | None,
    shape: Sequence[int],
    scale: Sequence[float],
    unpad: Sequence[slice],
    patch: Sequence[int],
) -> list[tuple[float, float]]:
    """Centres (y, x) on the resampled, padded plane of the fewest patches that cover a bone box of the
    cropped plane; the plane's middle when it has no box."""
    if box is None:
        return [(shape[-2] / 2, shape[-1] / 2)]
    axes = []
    for (lo, hi), k, p in zip(((box[0], box[1]), (box[2], box[3])), (-2, -1), patch[-2:]):
        a, b = lo * scale[k] + unpad[k].start, hi * scale[k] + unpad[k].start
        axes.append([(a + b) / 2] if b - a <= p else list(np.linspace(a + p / 2, b - p / 2, int(np.ceil((b - a) / p)))))
    return [(y, x) for y in axes[0] for x in axes[1]]


def cut(array: np.ndarray, patch: Sequence[int], centre: Sequence[float]) -> np.ndarray:
    """The patch-sized part of ``array`` (at least patch-sized) centred on ``centre`` as far as its edges allow."""
    starts = [int(min(max(round(c - p / 2), 0), s - p)) for c, s, p in zip(centre, array.shape, patch)]
    return np.ascontiguousarray(array[tuple(slice(a, a + p) for a, p in zip(starts, patch))], dtype=np.float32)


# ----- one network --------------------------------------------------------------------------------------------


def quantize_network(fp32: Path, out: Path, patches: Sequence[np.ndarray]) -> None:
    """Static QDQ int8 copy of ``fp32`` at ``out``; first and last convolution stay float32."""
    import onnx
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    with tempfile.TemporaryDirectory(prefix=".quantize-", dir=out.parent) as work:
        pre = Path(work) / "pre.onnx"
        try:
            quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)
            model = onnx.load(str(pre))
            name_nodes(model)
            keep = float_convolutions(model)
            if not [n for n in model.graph.node if n.op_type in QUANTIZED_OPS and n.name not in keep]:
                raise QuantizationError(
                    f"{fp32.name} has no convolution besides its first and its last, which stay "
                    "float32, so an int8 copy would change nothing."
                )
            onnx.save(model, str(pre))
            quantize_static(
                str(pre),
                str(out),
                calibration_reader(patches),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                op_types_to_quantize=list(QUANTIZED_OPS),
                nodes_to_exclude=keep,
            )
        except QuantizationError:
            raise
        except Exception as exc:  # onnx/onnxruntime raise their own untyped errors
            detail = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
            raise QuantizationError(f"onnxruntime could not quantise {fp32.name} ({detail}).") from exc


def name_nodes(model: Any) -> None:
    """Give unnamed (or twice-named) nodes unique names: quantisation excludes nodes by name."""
    seen: set[str] = set()
    for i, node in enumerate(model.graph.node):
        if not node.name or node.name in seen:
            node.name = f"{node.op_type}_{i}"
        seen.add(node.name)


def float_convolutions(model: Any) -> list[str]:
    """Names of the convolutions kept float32: the first (one input channel) and the last (the head)."""
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    return [convs[0], convs[-1]] if len(convs) > 1 else convs


def calibration_reader(patches: Sequence[np.ndarray]) -> Any:
    """onnxruntime's calibration reader over prepared patches (each fed once, in order)."""
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(patches)

        def get_next(self) -> dict[str, np.ndarray] | None:
            item = next(self.items, None)
            return None if item is None else {"input": item}

    return Reader()


# ----- the check and the move into place ----------------------------------------------------------------------


def check_int8(
    package: ModelPackage,
    image: str | os.PathLike[str],
    max_dice_loss: float,
    threads: int | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> dict[str, float]:
    """Dice per bone between the engine's int8 and float32 labels of ``image``; raises below ``1 - max_dice_loss``."""
    from kneeseg_app.core.imageio import open_volume
    from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
    from trainer.export import agreement

    volume = open_volume(image, cancel=cancel)
    labels = {}
    for i, precision in enumerate(("float32", "int8")):
        options = SegmentOptions(precision=precision, postprocess=False, threads=threads or 2)
        labels[precision] = (
            Segmenter(package, options).run(volume, scaled(progress, i / 2, (i + 1) / 2), cancel).labels.array
        )
    name = Path(image).name
    if not labels["float32"].any():
        raise QuantizationError(
            f"The float32 networks find no bone in {name}, so it cannot check the int8 networks; "
            "choose a check image that shows the knee."
        )
    dice = agreement(labels["int8"], labels["float32"], package.label_names)
    bad = {bone: d for bone, d in dice.items() if d < 1.0 - max_dice_loss}
    if bad:
        shown = ", ".join(f"{bone} {d:.4f}" for bone, d in bad.items())
        raise QuantizationError(
            f"The int8 networks label {name} differently from float32 (Dice {shown}, need at least "
            f"{1.0 - max_dice_loss:.4f}); the package was left as it was."
        )
    return dice


def _link_float_networks(package: Path, staging: Path, networks: Sequence[NetworkFile]) -> None:
    """The float32 files in the staging folder too (hard links where possible), so it is a whole package."""
    for entry in networks:
        try:
            os.link(package / entry.file, staging / entry.file)
        except OSError:
            shutil.copy2(package / entry.file, staging / entry.file)


def _install(staging: Path, package: Path, networks: Sequence[NetworkFile], checks: ChecksInfo) -> None:
    """Move the int8 files beside the float32 ones and record them with this run's check (an older
    check described older files, so it goes); on failure restore what was there."""
    moved: list[tuple[Path, Path | None]] = []
    try:
        for entry in networks:
            target = package / str(entry.int8_file)
            backup = None
            if target.exists():  # an earlier int8 copy: keep it until the manifest names the new one
                backup = staging / f"previous-{target.name}"
                os.replace(target, backup)
            moved.append((target, backup))
            os.replace(staging / str(entry.int8_file), target)
        update_manifest(package, networks=tuple(networks), checks=checks)
    except BaseException:
        for target, backup in reversed(moved):
            target.unlink(missing_ok=True)
            if backup is not None:
                os.replace(backup, target)
        raise


__all__ = [
    "DEFAULT_COUNT",
    "QuantizeResult",
    "calibration_patches",
    "check_int8",
    "quantize_network",
    "quantize_package",
]
