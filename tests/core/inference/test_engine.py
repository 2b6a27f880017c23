"""The engine: real onnxruntime sessions on tiny hand-made networks, checked against
hand-computable labels and against nnU-Net's own predictor (nnUNetPredictor)."""

from __future__ import annotations

import json
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from kneeseg_app.core.errors import Cancelled, ModelError
from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
from kneeseg_app.core.inference.plan import plan_case, slab_path_is_exact
from kneeseg_app.core.inference.settings import default_threads
from kneeseg_app.core.model.package import OnnxNetwork, load_model_package
from kneeseg_app.core.progress import CancelToken
from kneeseg_app.core.volume import Volume

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from onnx_factory import (  # noqa: E402
    NORMALIZATION,
    expected_labels_from_hu,
    slow_network,
    threshold_network,
    torch_twin,
    write_model_package,
)


def knee_like(shape=(24, 96, 80), spacing=(2.0, 0.8, 0.9), seed: int = 0) -> Volume:
    """Air, a soft-tissue leg, a 'femur' cylinder (600 HU) above a 'tibia' one (1400 HU).

    The two bones differ in HU so the threshold network tells them apart; the gap
    between them is a joint space of soft tissue. Mild noise keeps ties away.
    """
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]]
    cy, cx = shape[1] / 2, shape[2] / 2
    r = np.hypot((y - cy) * spacing[1], (x - cx) * spacing[2])
    hu = np.full(shape, -1000.0, dtype=np.float32)
    hu[r < 30] = 40.0
    bone = r < 14
    hu[bone & (z < shape[0] // 2 - 1)] = 1400.0  # tibia: inferior (low z in LPS)
    hu[bone & (z > shape[0] // 2)] = 600.0  # femur: superior
    hu += np.random.default_rng(seed).normal(0, 15, shape).astype(np.float32)
    return Volume(hu.astype(np.int16), spacing, origin_xyz=(-40.0, -30.0, 100.0))


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    total = a.sum() + b.sum()
    return 1.0 if total == 0 else 2.0 * float((a & b).sum()) / float(total)


@pytest.fixture(scope="module")
def package_2d(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("pkg2d") / "m"
    return load_model_package(write_model_package(folder, patch_size=(48, 64), target_spacing=(1.0, 1.0)))


# ----- results that can be checked by hand -------------------------------------------
def test_labels_follow_the_hu_thresholds_where_no_resampling_is_needed(tmp_path: Path) -> None:
    package = load_model_package(write_model_package(tmp_path / "m", patch_size=(48, 64), target_spacing=(0.8, 0.9)))
    volume = knee_like()
    result = Segmenter(package, SegmentOptions(threads=1)).run(volume)
    expected = expected_labels_from_hu(volume.array)
    labels = result.labels.array
    assert labels.dtype == np.uint8 and labels.shape == volume.shape
    assert result.labels.same_grid(volume)
    # the 3x3 mean filter only blurs the borders of the bones
    for value in (1, 2):
        assert _dice(labels == value, expected == value) > 0.97
    assert result.volumes_ml["femur"] == pytest.approx((labels == 1).sum() * volume.voxel_volume_ml)
    assert set(result.stage_seconds) >= {
        "load_model",
        "prepare",
        "preprocess",
        "network",
        "resample_back",
        "postprocess",
    }
    assert result.model_name == "test-threshold-2d" and result.settings["tta"] is False


def test_resampled_case_finds_both_bones_in_the_right_places(package_2d) -> None:
    volume = knee_like()
    labels = Segmenter(package_2d, SegmentOptions(threads=1)).run(volume).labels.array
    half = volume.shape[0] // 2
    assert (labels[half + 1 :] == 1).sum() == (labels == 1).sum() > 0  # femur: superior only
    assert (labels[: half - 1] == 2).sum() == (labels == 2).sum() > 0  # tibia: inferior only
    expected = expected_labels_from_hu(volume.array)
    assert _dice(labels == 1, expected == 1) > 0.95 and _dice(labels == 2, expected == 2) > 0.95


def test_post_processing_removes_a_stray_island(package_2d) -> None:
    volume = knee_like()
    volume.array[3, 4:10, 4:10] = 1400  # a tibia-like speck in the air, far from the tibia
    kept = Segmenter(package_2d, SegmentOptions(threads=1, postprocess=False)).run(volume)
    cleaned = Segmenter(package_2d, SegmentOptions(threads=1)).run(volume)
    assert kept.labels.array[3, 7, 7] == 2
    assert cleaned.labels.array[3, 7, 7] == 0
    assert cleaned.removed_voxels["tibia"] > 0


def test_a_3d_model_runs_the_whole_volume_path(tmp_path: Path) -> None:
    package = load_model_package(
        write_model_package(
            tmp_path / "m",
            networks=[threshold_network(3)],
            dims=3,
            patch_size=(16, 48, 48),
            target_spacing=(2.0, 1.0, 1.0),
        )
    )
    volume = knee_like()
    assert not slab_path_is_exact(plan_case(volume, package.manifest), package.manifest)
    labels = Segmenter(package, SegmentOptions(threads=1)).run(volume).labels.array
    expected = expected_labels_from_hu(volume.array)
    assert _dice(labels == 1, expected == 1) > 0.9 and _dice(labels == 2, expected == 2) > 0.9


# ----- structure: slabs, orientation ------------------------------------------------
def test_slab_size_does_not_change_the_result(package_2d) -> None:
    volume = knee_like()
    one = Segmenter(package_2d, SegmentOptions(threads=1, slab_slices=1, postprocess=False)).run(volume)
    many = Segmenter(package_2d, SegmentOptions(threads=1, slab_slices=5, postprocess=False)).run(volume)
    whole = Segmenter(package_2d, SegmentOptions(threads=1, slab_slices=1000, postprocess=False)).run(volume)
    assert np.array_equal(one.labels.array, whole.labels.array)
    assert np.array_equal(many.labels.array, whole.labels.array)


def test_2d_inference_never_holds_the_logits_of_the_whole_volume(package_2d) -> None:
    """Peak memory of a run is a few slabs, far below a float32 logits volume."""
    volume = knee_like(shape=(80, 96, 80), spacing=(1.0, 1.0, 1.0))
    plan = plan_case(volume, package_2d.manifest)
    assert slab_path_is_exact(plan, package_2d.manifest)
    full_logits = 3 * int(np.prod(plan.resampled_shape)) * 4
    segmenter = Segmenter(package_2d, SegmentOptions(threads=1, slab_slices=4))
    segmenter.networks()
    tracemalloc.start()
    try:
        segmenter.run(volume)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < full_logits / 3, f"peak {peak / 1e6:.1f} MB vs whole-volume logits {full_logits / 1e6:.1f} MB"


def test_a_flipped_and_permuted_scan_gives_labels_on_the_same_anatomy(tmp_path: Path) -> None:
    """Same patient, stored with another direction matrix: same bones, voxel for voxel."""
    network = threshold_network(2, asymmetric=True)
    package = load_model_package(
        write_model_package(tmp_path / "m", networks=[network], patch_size=(48, 64), target_spacing=(1.0, 1.1))
    )
    volume = knee_like()
    reference = Segmenter(package, SegmentOptions(threads=1)).run(volume).labels
    image = volume.to_sitk()
    stored_otherwise = sitk.PermuteAxes(sitk.Flip(image, [True, False, True]), [1, 0, 2])
    other = Volume.from_sitk(stored_otherwise)
    assert not np.allclose(other.direction, volume.direction)
    labels = Segmenter(package, SegmentOptions(threads=1)).run(other).labels
    assert labels.same_grid(other)
    back = sitk.Resample(labels.to_sitk(), image, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    assert np.array_equal(sitk.GetArrayFromImage(back), reference.array)
    assert (reference.array == 1).sum() > 100 and (reference.array == 2).sum() > 100


# ----- options -----------------------------------------------------------------------
def test_skipping_air_tiles_runs_fewer_tiles_and_keeps_the_bones(package_2d, monkeypatch: pytest.MonkeyPatch) -> None:
    volume = knee_like(shape=(6, 200, 200), spacing=(2.0, 1.0, 1.0))
    calls = {"n": 0}
    original = OnnxNetwork.run

    def counting(self, batch, run_options=None):
        calls["n"] += batch.shape[0]
        return original(self, batch, run_options)

    monkeypatch.setattr(OnnxNetwork, "run", counting)
    exact = Segmenter(package_2d, SegmentOptions(threads=1)).run(volume)
    n_exact, calls["n"] = calls["n"], 0
    fast = Segmenter(package_2d, SegmentOptions(threads=1, skip_air_tiles=True)).run(volume)
    assert calls["n"] < n_exact * 0.8
    assert fast.settings["skip_air_tiles"] is True
    assert np.array_equal(fast.labels.array, exact.labels.array)


def test_tta_runs_every_mirroring_and_is_recorded(package_2d, monkeypatch: pytest.MonkeyPatch) -> None:
    volume = knee_like(shape=(4, 48, 64), spacing=(2.0, 1.0, 1.0))
    calls = {"n": 0}
    original = OnnxNetwork.run

    def counting(self, batch, run_options=None):
        calls["n"] += 1
        return original(self, batch, run_options)

    monkeypatch.setattr(OnnxNetwork, "run", counting)
    Segmenter(package_2d, SegmentOptions(threads=1, batch_size=64)).run(volume)
    plain, calls["n"] = calls["n"], 0
    result = Segmenter(package_2d, SegmentOptions(threads=1, batch_size=64, tta=True)).run(volume)
    assert calls["n"] == 4 * plain
    assert result.settings["mirror_axes"] == (0, 1)


def test_progress_is_monotone_and_reaches_one(package_2d) -> None:
    seen: list[tuple[str, float]] = []
    Segmenter(package_2d, SegmentOptions(threads=1, slab_slices=3)).run(
        knee_like(), progress=lambda s, f: seen.append((s, f))
    )
    fractions = [f for _, f in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    stages = [s for s, _ in seen]
    assert stages[0] == "Loading model" and "Segmenting" in stages and stages[-1] == "Done"
    assert len([s for s in stages if s == "Segmenting"]) > 3


def test_default_threads_is_at_most_four() -> None:
    assert 1 <= default_threads() <= 4


def test_a_damaged_network_stops_the_run_with_a_model_error(tmp_path: Path) -> None:
    folder = write_model_package(tmp_path / "m")
    package = load_model_package(folder)
    (folder / "fold_0.onnx").write_bytes(b"garbage")
    with pytest.raises(ModelError, match="checksum"):
        Segmenter(package).run(knee_like())


# ----- cancellation ----------------------------------------------------------------------
def test_cancel_from_another_thread_stops_a_run_within_a_second_or_so(tmp_path: Path) -> None:
    package = load_model_package(
        write_model_package(
            tmp_path / "m",
            networks=[slow_network(channels=64, layers=16)],
            patch_size=(256, 256),
            target_spacing=(1.0, 1.0),
        )
    )
    segmenter = Segmenter(package, SegmentOptions(threads=1, batch_size=4))
    segmenter.networks()
    volume = knee_like(shape=(8, 256, 256), spacing=(1.0, 1.0, 1.0))
    token = CancelToken()
    outcome: dict[str, object] = {}

    def work() -> None:
        try:
            segmenter.run(volume, cancel=token)
            outcome["error"] = None
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome["error"] = exc
        outcome["ended"] = time.perf_counter()

    worker = threading.Thread(target=work)
    worker.start()
    time.sleep(0.8)  # inside the first (multi-second) onnxruntime call
    cancelled_at = time.perf_counter()
    token.cancel()
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert isinstance(outcome["error"], Cancelled)
    assert outcome["ended"] - cancelled_at < 3.0  # type: ignore[operator]


def test_an_already_cancelled_token_stops_before_any_work(package_2d) -> None:
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        Segmenter(package_2d).run(knee_like(), cancel=token)


def test_a_segmenter_is_reusable_after_a_cancelled_run(package_2d) -> None:
    segmenter = Segmenter(package_2d, SegmentOptions(threads=1))
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        segmenter.run(knee_like(), cancel=token)
    assert (segmenter.run(knee_like()).labels.array == 2).any()


# ----- parity with nnU-Net's own predictor ----------------------------------------------------
def _nnunet_predict(hu: np.ndarray, spacing, patch, target, nets, tta: bool, transpose=(0, 1, 2)) -> np.ndarray:
    """nnUNetPredictor on CPU with hand-made plans, the torch twins of our ONNX networks."""
    torch = pytest.importorskip("torch")
    predict = pytest.importorskip("nnunetv2.inference.predict_from_raw_data")
    plans_handler = pytest.importorskip("nnunetv2.utilities.plans_handling.plans_handler")
    dims = len(patch)
    config = {
        "data_identifier": "t",
        "preprocessor_name": "DefaultPreprocessor",
        "batch_size": 2,
        "patch_size": list(patch),
        "median_image_size_in_voxels": [100] * dims,
        "spacing": list(target),
        "normalization_schemes": ["CTNormalization"],
        "use_mask_for_norm": [False],
        "resampling_fn_data": "resample_data_or_seg_to_shape",
        "resampling_fn_seg": "resample_data_or_seg_to_shape",
        "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
        "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
        "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
        "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0, "force_separate_z": None},
        "architecture": {"network_class_name": "unused", "arch_kwargs": {}, "_kw_requires_import": []},
    }
    n = NORMALIZATION
    name = "2d" if dims == 2 else "3d_fullres"
    plans = {
        "dataset_name": "Dataset999_Test",
        "plans_name": "nnUNetPlans",
        "image_reader_writer": "SimpleITKIO",
        "original_median_spacing_after_transp": [1, 1, 1],
        "original_median_shape_after_transp": [10, 10, 10],
        "transpose_forward": list(transpose),
        "transpose_backward": [int(i) for i in np.argsort(transpose)],
        "experiment_planner_used": "ExperimentPlanner",
        "label_manager": "LabelManager",
        "configurations": {name: config},
        "foreground_intensity_properties_per_channel": {
            "0": {"mean": n["mean"], "std": n["std"], "percentile_00_5": n["lower"], "percentile_99_5": n["upper"]}
        },
    }
    manager = plans_handler.PlansManager(plans)
    dataset = {
        "labels": {"background": 0, "femur": 1, "tibia": 2},
        "channel_names": {"0": "CT"},
        "file_ending": ".nii.gz",
    }
    predictor = predict.nnUNetPredictor(
        tile_step_size=0.5,
        use_gaussian=True,
        use_mirroring=tta,
        device=torch.device("cpu"),
        perform_everything_on_device=False,
        allow_tqdm=False,
    )
    predictor.manual_initialization(
        nets[0],
        manager,
        manager.get_configuration(name),
        [net.state_dict() for net in nets],
        dataset,
        "nnUNetTrainer",
        tuple(range(dims)),
    )
    return predictor.predict_single_npy_array(hu[None].astype(np.float32), {"spacing": list(spacing)})


PARITY_CASES = [
    # spacing (z, y, x), target (network order), tta, folds, dims, transpose_forward
    pytest.param((2.0, 0.7, 0.8), (1.0, 1.1), False, 1, 2, (0, 1, 2), id="2d-3d-zoom-path"),
    pytest.param((3.5, 0.7, 0.7), (0.9, 0.9), True, 1, 2, (0, 1, 2), id="2d-separate-z-tta"),
    pytest.param((2.0, 0.8, 0.9), (1.0, 1.1), True, 2, 2, (0, 1, 2), id="2d-ensemble-tta"),
    pytest.param((0.8, 2.0, 0.9), (0.7, 1.1), False, 1, 2, (1, 0, 2), id="2d-transposed"),
    pytest.param((0.7, 3.5, 0.7), (0.9, 0.9), False, 1, 2, (0, 1, 2), id="2d-whole-volume-fallback"),
    pytest.param((2.0, 0.7, 0.8), (1.5, 1.0, 1.1), True, 2, 3, (0, 1, 2), id="3d-ensemble-tta"),
]


@pytest.mark.train
@pytest.mark.parametrize("spacing,target,tta,folds,dims,transpose", PARITY_CASES)
def test_matches_nnunet_predictor(request, tmp_path: Path, spacing, target, tta, folds, dims, transpose) -> None:
    pytest.importorskip("nnunetv2")
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(1)
    hu = gaussian_filter(rng.normal(0, 400, (12, 90, 77)), 2).astype(np.float32) * 8 + 300
    hu[:, :5] = 0  # rows of exact zeros: nnU-Net crops them away
    variants = [{}, {"femur_hu": 250.0, "tibia_hu": 950.0, "slope": 3.0}][:folds]
    patch = (32, 48) if dims == 2 else (8, 24, 32)
    folder = write_model_package(
        tmp_path / "m",
        networks=[threshold_network(dims, **v) for v in variants],
        dims=dims,
        patch_size=patch,
        target_spacing=target,
        mirror_axes=list(range(dims)),
    )
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["input"]["transpose_forward"] = list(transpose)
    manifest["input"]["transpose_backward"] = [int(i) for i in np.argsort(transpose)]
    (folder / "manifest.json").write_text(json.dumps(manifest))
    package = load_model_package(folder)
    volume = Volume(hu, spacing)
    plan = plan_case(volume, package.manifest)
    assert slab_path_is_exact(plan, package.manifest) == (dims == 2 and "fallback" not in request.node.callspec.id)
    ours = Segmenter(package, SegmentOptions(threads=1, tta=tta, postprocess=False)).run(volume).labels.array
    theirs = _nnunet_predict(hu, spacing, patch, target, [torch_twin(dims, **v) for v in variants], tta, transpose)
    assert ours.shape == theirs.shape
    # nnU-Net accumulates in float16: a handful of near-tie voxels may differ
    assert (ours == theirs).mean() > 0.9995
    for value in (1, 2):
        if (theirs == value).sum() > 50:
            assert _dice(ours == value, theirs == value) >= 0.999
