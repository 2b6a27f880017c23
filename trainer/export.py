"""Export a trained run (nnU-Net or the custom U-Net) as a KneeSeg model package.

The package is only written when it provably reproduces the trained network:

1. **ONNX vs torch**: each fold's ONNX file, run by onnxruntime, gives the same logits
   as the torch network on random inputs at two sizes (the spatial axes are dynamic);
   the largest absolute difference is reported and must stay below a bound.
2. **App engine vs nnU-Net**: the finished package, run by the app's engine
   (:class:`kneeseg_app.core.inference.engine.Segmenter`), labels held-out images like nnU-Net's
   own ``nnUNetPredictor`` with the same settings (tile step, Gaussian, mirroring,
   folds; no post-processing on either side): Dice >= 0.999 per bone.

Everything is built in a temporary folder beside the target and renamed into place
only when both checks pass; a failed check raises ExportCheckError and leaves nothing.
ONNX export uses torch's TorchScript-based exporter (``dynamo=False``): it works
offline in torch 2.14 without onnxscript, which the dynamo exporter needs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from kneeseg_app.core.atomic import replace_folder
from kneeseg_app.core.errors import OutputError
from kneeseg_app.core.model.manifest import write_manifest
from kneeseg_app.core.model.package import file_sha256, load_model_package
from kneeseg_app.core.model.schema import ChecksInfo, NetworkFile, ValidationInfo
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress, scaled
from trainer.errors import ExportCheckError, TrainingError
from trainer.manifest import PackageInfo, build_manifest
from trainer.nnunet.run import LoadedNetworks, TrainedRun, load_networks, nnunet_predict_file, nnunet_predictor

OPSET = 17


@dataclass
class ExportSettings:
    folds: str | Sequence[int] = "best"
    """'best' (highest validation Dice, as in the study), 'all' (ensemble of trained folds) or fold numbers."""
    checkpoint: str = "final"
    check_images: Sequence[Path] = ()
    check_tta: bool = False
    onnx_tolerance: float = 1e-3
    min_dice: float = 0.999
    ambiguity: float = 0.01
    """Voxels where nnU-Net's two most likely classes are closer than this (probability) count as
    agreeing: their argmax is decided by float rounding, not by the model (matters for barely trained networks)."""
    threads: int = 2
    overwrite: bool = False


@dataclass
class ExportResult:
    package: Path
    folds: list[int]
    onnx_max_abs_diff: float
    engine_dice: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: float = 0.0

    def text(self) -> str:
        lines = [
            f"Model package written to {self.package} (folds {', '.join(map(str, self.folds))}).",
            f"Check 1, ONNX vs torch: largest logit difference {self.onnx_max_abs_diff:.2e}.",
        ]
        for case, dice in self.engine_dice.items():
            scores = ", ".join(f"{bone} {value:.4f}" for bone, value in dice.items() if not bone.startswith("voxels"))
            lines.append(
                f"Check 2, app engine vs nnUNetPredictor on {case}: Dice {scores} "
                f"({dice['voxels_differing']} voxels differ, {dice['voxels_differing_decisive']} where "
                "nnU-Net is decisive)."
            )
        return "\n".join(lines)


def resolve_folds(run: TrainedRun, folds: str | Sequence[int], checkpoint: str) -> list[int]:
    if folds == "best":
        return [run.best_fold()]
    if folds == "all":
        trained = run.trained_folds(checkpoint)
        if not trained:
            raise TrainingError(f"No fold of {run.folder} has a {checkpoint} checkpoint.")
        return trained
    return [int(f) for f in folds]  # type: ignore[union-attr]


def export_package(
    run_folder: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    info: PackageInfo,
    settings: ExportSettings | None = None,
    validation: ValidationInfo | None = None,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> ExportResult:
    """Export, check and write the package folder ``out_dir`` (see the module doc)."""
    started = time.perf_counter()
    settings = settings or ExportSettings()
    target = Path(out_dir).resolve()
    if target.exists() and not settings.overwrite:
        raise OutputError(f"{target} already exists; choose another folder or allow overwriting.")
    if not settings.check_images:
        raise ExportCheckError("Export needs at least one held-out image to check the app engine against nnU-Net.")
    run = TrainedRun.from_folder(run_folder)
    folds = resolve_folds(run, settings.folds, settings.checkpoint)
    progress("Loading networks", 0.0)
    loaded = load_networks(run, folds, settings.checkpoint)
    configuration = run.configuration_dict()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent))
    try:
        networks, max_diff = _export_folds(loaded, configuration, tmp, settings, scaled(progress, 0.05, 0.4), cancel)
        manifest = build_manifest(
            run,
            configuration,
            info,
            networks,
            loaded.architecture,
            loaded.mirror_axes,
            validation if validation is not None else cv_validation(run, folds),
        )
        manifest = replace(manifest, checks=ChecksInfo(onnx_max_abs_diff=max_diff))
        write_manifest(tmp, manifest)
        engine_dice = check_engine_against_nnunet(tmp, run, loaded, settings, scaled(progress, 0.4, 0.95), cancel)
        write_manifest(tmp, replace(manifest, checks=replace(manifest.checks, engine_vs_nnunet_dice=engine_dice)))
        load_model_package(tmp)  # the app's own loader accepts the finished package
        replace_folder(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    progress("Exported", 1.0)
    return ExportResult(target, folds, max_diff, engine_dice, time.perf_counter() - started)


def cv_validation(run: TrainedRun, folds: Sequence[int]) -> ValidationInfo:
    """The manifest's validation block from nnU-Net's validation of the exported folds."""
    per_fold = [d for d in (run.validation_dice(f) for f in folds) if d is not None]
    if not per_fold:
        return ValidationInfo()
    bones = [name for name in run.dataset_json["labels"] if name != "background"]
    return ValidationInfo(
        cases=int(sum(d.get("cases", 0) for d in per_fold)),
        dice={b: round(float(np.mean([d[b] for d in per_fold if b in d])), 4) for b in bones},
        source=f"nnU-Net validation of fold(s) {', '.join(map(str, folds))}",
    )


# ----- check 1: ONNX files ------------------------------------------------------------------------------------


def _export_folds(
    loaded: LoadedNetworks,
    configuration: dict,
    out: Path,
    settings: ExportSettings,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> tuple[list[NetworkFile], float]:
    patch = [int(p) for p in configuration["patch_size"]]
    networks, worst = [], 0.0
    for i, (fold, weights) in enumerate(zip(loaded.folds, loaded.weights)):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(f"Exporting fold {fold}", i / len(loaded.folds))
        loaded.network.load_state_dict(weights)
        path = out / f"fold_{fold}.onnx"
        export_onnx(loaded.network, path, patch)
        diff = onnx_max_abs_diff(loaded.network, path, patch, _step(configuration, loaded.architecture))
        bound = settings.onnx_tolerance
        if not diff <= bound:
            raise ExportCheckError(
                f"The ONNX network of fold {fold} differs from torch by {diff:.2e} "
                f"(allowed {bound:.0e}); no package was written."
            )
        worst = max(worst, diff)
        networks.append(NetworkFile(file=path.name, sha256=file_sha256(path), fold=fold))
    return networks, worst


def _step(configuration: dict, architecture: str) -> list[int]:
    from trainer.manifest import divisibility

    return divisibility(configuration, architecture)


def export_onnx(network: Any, path: Path, patch: Sequence[int]) -> None:
    """Write ``network`` as ONNX: input 'input' (N, 1, *spatial), output 'logits', dynamic N and spatial axes.

    Traced at the patch size: instance norms need more than one value per channel at the bottleneck.
    """
    import torch

    dims = len(patch)
    axes = {0: "batch", **{2 + d: f"spatial_{d}" for d in range(dims)}}
    example = torch.zeros((1, 1, *patch), dtype=torch.float32)
    network.eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter is deprecated, still the offline one
        torch.onnx.export(
            network,
            (example,),
            str(path),
            input_names=["input"],
            output_names=["logits"],
            dynamic_axes={"input": axes, "logits": axes},
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    import onnx

    onnx.checker.check_model(str(path))


def onnx_max_abs_diff(network: Any, path: Path, patch: Sequence[int], step: Sequence[int]) -> float:
    """Largest |torch - onnxruntime| logit over random inputs at the patch size and one step larger."""
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    worst = 0.0
    for batch, size in ((2, list(patch)), (1, [p + s for p, s in zip(patch, step)])):
        x = rng.standard_normal((batch, 1, *size)).astype(np.float32)
        with torch.no_grad():
            expected = network(torch.from_numpy(x)).numpy()
        got = session.run(["logits"], {"input": x})[0]
        if got.shape != expected.shape:
            raise ExportCheckError(f"The ONNX network returns shape {got.shape}, torch {expected.shape}.")
        worst = max(worst, float(np.max(np.abs(got - expected))))
    return worst


# ----- check 2: the app engine vs nnU-Net's predictor ------------------------------------------------------


def check_engine_against_nnunet(
    package_dir: Path,
    run: TrainedRun,
    loaded: LoadedNetworks,
    settings: ExportSettings,
    progress: ProgressCallback,
    cancel: CancelToken | None,
) -> dict[str, dict[str, float]]:
    """Dice per bone between the engine's and nnUNetPredictor's labels of each check image."""
    from kneeseg_app.core.imageio import open_volume
    from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions

    package = load_model_package(package_dir)
    segmenter = Segmenter(package, SegmentOptions(tta=settings.check_tta, postprocess=False, threads=settings.threads))
    predictor = nnunet_predictor(
        run,
        loaded,
        tta=settings.check_tta,
        tile_step_size=package.manifest.inference.tile_step_size,
        threads=settings.threads,
    )
    results: dict[str, dict[str, float]] = {}
    for i, image in enumerate(settings.check_images):
        if cancel is not None:
            cancel.raise_if_cancelled()
        progress(f"Checking {Path(image).name}", i / len(settings.check_images))
        ours = segmenter.run(open_volume(image), cancel=cancel).labels.array
        theirs, probabilities = nnunet_predict_file(predictor, image, probabilities=True)
        ties = ambiguous_voxels(probabilities, settings.ambiguity)
        differ = int(np.count_nonzero(ours != theirs))
        ours = np.where(ties, theirs, ours)
        dice = agreement(ours, theirs, package.label_names)
        results[Path(image).name] = {
            **dice,
            "voxels_differing": differ,
            "voxels_differing_decisive": int(np.count_nonzero(ours != theirs)),
        }
        bad = {bone: d for bone, d in dice.items() if d < settings.min_dice}
        if bad:
            shown = ", ".join(f"{b} {d:.4f}" for b, d in bad.items())
            raise ExportCheckError(
                f"The app engine and nnU-Net disagree on {Path(image).name} (Dice {shown}, "
                f"need {settings.min_dice}); no package was written."
            )
    return results


def ambiguous_voxels(probabilities: np.ndarray, margin: float) -> np.ndarray:
    """Voxels whose two most likely classes differ by less than ``margin`` in probability."""
    top2 = np.partition(probabilities, -2, axis=0)[-2:]
    return (top2[1] - top2[0]) < margin


def agreement(a: np.ndarray, b: np.ndarray, names: dict[int, str]) -> dict[str, float]:
    """Dice of each label between two label maps (1.0 when both lack it)."""
    if a.shape != b.shape:
        raise ExportCheckError(f"The app engine's labels {a.shape} and nnU-Net's {b.shape} differ in size.")
    out = {}
    for label, name in names.items():
        if label == 0:
            continue
        x, y = a == label, b == label
        total = int(x.sum()) + int(y.sum())
        out[name] = 1.0 if total == 0 else round(2.0 * int(np.logical_and(x, y).sum()) / total, 6)
    return out


__all__ = ["ExportResult", "ExportSettings", "PackageInfo", "agreement", "export_package"]
