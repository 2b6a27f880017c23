"""The engine's speed options, each against the exact (nnU-Net identical) path on the same
volume with real onnxruntime sessions of tiny networks: bone windows, skipped slices,
int8 networks, slice stride, resampling tolerance, threads. No timings: the speed-ups
are counted in network calls; benchmarks/ measures seconds."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from kneeseg_app.core.errors import InputError
from kneeseg_app.core.inference.engine import Segmenter, SegmentOptions
from kneeseg_app.core.inference.fast.roi import AxisMap, bone_box, input_range, network_range, runs, slices_near_bone
from kneeseg_app.core.inference.plan import plan_case
from kneeseg_app.core.inference.preprocess import resize_slices, zoom_window
from kneeseg_app.core.model.package import ModelPackageError, OnnxNetwork, load_model_package
from kneeseg_app.core.volume import Volume

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from onnx_factory import threshold_network, write_model_package  # noqa: E402


def knee(shape=(30, 160, 200), spacing=(2.0, 0.9, 0.9), bone_slices=None, seed: int = 0) -> Volume:
    """Air, a soft-tissue leg, a 'femur' (600 HU) above a 'tibia' (1400 HU) in a small part of
    a wide field of view, a thin dense 'table' shell below; optional slice range with bone."""
    z, y, x = np.mgrid[: shape[0], : shape[1], : shape[2]]
    cy, cx = shape[1] * 0.45, shape[2] * 0.4
    r = np.hypot((y - cy) * spacing[1], (x - cx) * spacing[2])
    hu = np.full(shape, -1000.0, dtype=np.float32)
    hu[r < 30] = 40.0
    bone = r < 12
    if bone_slices is not None:
        keep = np.zeros(shape[0], dtype=bool)
        keep[bone_slices] = True
        bone &= keep[:, None, None]
    half = shape[0] // 2
    hu[bone & (z < half - 1)] = 1400.0
    hu[bone & (z > half)] = 600.0
    hu[:, int(shape[1] * 0.85), 10:-10] = 500.0  # the table's skin: one pixel thick
    hu += np.random.default_rng(seed).normal(0, 15, shape).astype(np.float32)
    return Volume(hu.astype(np.int16), spacing, origin_xyz=(-40.0, -30.0, 100.0))


def dice(a: np.ndarray, b: np.ndarray, value: int) -> float:
    x, y = a == value, b == value
    total = x.sum() + y.sum()
    return 1.0 if total == 0 else 2.0 * float((x & y).sum()) / float(total)


def counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the images that go through onnxruntime (batch rows)."""
    calls = {"images": 0}
    original = OnnxNetwork.run

    def run(self, batch, run_options=None):
        calls["images"] += batch.shape[0]
        return original(self, batch, run_options)

    monkeypatch.setattr(OnnxNetwork, "run", run)
    return calls


def segment(package, volume: Volume, **options) -> np.ndarray:
    return Segmenter(package, SegmentOptions(threads=1, postprocess=False, **options)).run(volume).labels.array


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory):
    """A 2D threshold network with a 64 x 64 patch (several tiles per slice), exact defaults."""
    folder = tmp_path_factory.mktemp("speed") / "m"
    return load_model_package(write_model_package(folder, patch_size=(64, 64), target_spacing=(1.0, 1.0)))


def with_inference(package, tmp_path: Path, **inference) -> object:
    """A copy of ``package`` whose manifest's inference section has ``inference`` added."""
    folder = tmp_path / "copy"
    folder.mkdir()
    for file in package.path.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["inference"].update(inference)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return load_model_package(folder)


# ----- bone windows ---------------------------------------------------------------------
def test_bone_windows_give_the_exact_labels_with_fewer_network_images(package, monkeypatch) -> None:
    volume = knee()
    calls = counting(monkeypatch)
    exact = segment(package, volume, exact=True)
    n_exact, calls["images"] = calls["images"], 0
    fast = segment(package, volume, roi="bones")
    assert calls["images"] < 0.6 * n_exact
    for value in (1, 2):
        assert (exact == value).sum() > 500
        assert dice(fast, exact, value) >= 0.999


def test_grid_tiling_runs_only_nnunets_tiles_near_the_bones_and_keeps_their_logits(
    package, tmp_path, monkeypatch
) -> None:
    """'grid': the whole plane's tiles that reach the bone region, so every pixel of the region
    gets nnU-Net's own logits (same tiles, weights and sums): the labels are the exact ones."""
    volume = knee(shape=(12, 200, 260))
    calls = counting(monkeypatch)
    exact = segment(package, volume, exact=True)
    n_exact, calls["images"] = calls["images"], 0
    grid = segment(with_inference(package, tmp_path, roi_tiling="grid", roi_margin_mm=8.0), volume, roi="bones")
    assert calls["images"] < 0.6 * n_exact
    assert np.array_equal(grid, exact)


def test_exact_runs_refuse_speed_options(package) -> None:
    with pytest.raises(InputError, match="roi"):
        Segmenter(package, SegmentOptions(exact=True, roi="bones"))
    with pytest.raises(InputError, match="precision"):
        Segmenter(package, SegmentOptions(exact=True, precision="int8"))
    settings = Segmenter(package, SegmentOptions(exact=True, tta=True)).settings
    assert settings.roi == "none" and settings.precision == "float32" and not settings.uses_bone_windows


def test_the_first_pass_ignores_a_thin_table_shell_and_fills_a_cortical_ring() -> None:
    plane = np.full((200, 200), -1000.0, dtype=np.float32)
    plane[180, 5:195] = 800.0  # one-pixel table skin
    yy, xx = np.mgrid[:200, :200]
    r = np.hypot(yy - 60, xx - 90)
    plane[(r > 10) & (r < 14)] = 1200.0  # a cortex ring around fatty marrow
    box = bone_box(plane, 250.0, step=2)
    assert box is not None
    y0, y1, x0, x1 = box
    assert y0 <= 49 and y1 >= 72 and x0 <= 79 and x1 >= 102  # the ring (47..73, 77..103), to a sub-sampled pixel
    assert y1 < 100  # but not the table
    plane[(r > 10) & (r < 14)] = -1000.0
    assert bone_box(plane, 250.0, step=2) is None


def test_a_bone_the_first_pass_only_glimpses_is_still_segmented_whole(package, tmp_path: Path) -> None:
    """Threshold above the femur's HU: the first pass sees only a small dense core of it in
    two slices. The femur still comes out whole: its window is widened where it reaches
    the window's edge, and the skipped slices above are followed while they hold bone."""
    volume = knee()
    half = volume.shape[0] // 2
    z, y, x = np.mgrid[: volume.shape[0], : volume.shape[1], : volume.shape[2]]
    core = np.hypot((y - volume.shape[1] * 0.45) * 0.9, (x - volume.shape[2] * 0.4) * 0.9) < 4
    volume.array[core & ((z == half + 1) | (z == half + 2))] = 1400
    exact = segment(package, volume, exact=True)
    blind = with_inference(package, tmp_path, roi_threshold_hu=1000.0, roi_slice_margin=0, roi_margin_mm=1.0)
    fast = segment(blind, volume, roi="bones", skip_empty_slices=True)
    assert (exact[half + 3 :] == 1).sum() > 1000
    for value in (1, 2):
        assert dice(fast, exact, value) >= 0.999


def test_without_any_bone_candidate_every_slice_is_run_over_the_body(package, tmp_path: Path, monkeypatch) -> None:
    volume = knee()
    blind = with_inference(package, tmp_path, roi_threshold_hu=3000.0)  # the first pass finds nothing
    calls = counting(monkeypatch)
    exact = segment(package, volume, exact=True)
    n_exact, calls["images"] = calls["images"], 0
    fast = segment(blind, volume, roi="bones", skip_empty_slices=True)
    assert volume.shape[0] <= calls["images"] < n_exact  # every slice, not the air beside the body
    for value in (1, 2):
        assert dice(fast, exact, value) >= 0.999


# ----- skipped slices ----------------------------------------------------------------------
def test_slices_far_from_bone_are_not_run(package, monkeypatch) -> None:
    volume = knee(shape=(40, 120, 120), bone_slices=slice(12, 28))
    calls = counting(monkeypatch)
    exact = segment(package, volume, exact=True)
    n_exact, calls["images"] = calls["images"], 0
    fast = segment(package, volume, skip_empty_slices=True)
    assert calls["images"] < 0.75 * n_exact
    assert np.array_equal(fast, exact)


def test_slice_runs_and_margins() -> None:
    flags = slices_near_bone([None, None, (0, 1, 0, 1), None, None, None, None, (0, 1, 0, 1)], 1)
    assert flags.tolist() == [False, True, True, True, False, False, True, True]
    assert runs(flags, 2) == [(1, 3), (3, 4), (6, 8)]


# ----- int8 networks ---------------------------------------------------------------------------
def quantized_threshold_network(tmp_path: Path) -> bytes:
    """The threshold network statically quantised (every convolution int8; ``kneeseg-train quantize``
    keeps the first and the last in float32, which would leave this two-layer network unchanged)."""
    quantization = pytest.importorskip("onnxruntime.quantization")
    import onnx

    fp32 = tmp_path / "fp32.onnx"
    onnx.save(threshold_network(2), fp32)
    rng = np.random.default_rng(0)

    class Reader(quantization.CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"input": (rng.normal(0, 1.5, (1, 1, 64, 64))).astype(np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.items, None)

    out = tmp_path / "int8.onnx"
    quantization.quantize_static(
        str(fp32),
        str(out),
        Reader(),
        quant_format=quantization.QuantFormat.QDQ,
        per_channel=True,
        activation_type=quantization.QuantType.QUInt8,
        weight_type=quantization.QuantType.QInt8,
    )
    return out.read_bytes()


def test_int8_networks_are_used_when_asked_for_and_agree_with_float32(package, tmp_path: Path) -> None:
    data = quantized_threshold_network(tmp_path)
    folder = tmp_path / "pkg"
    folder.mkdir()
    for file in package.path.iterdir():
        (folder / file.name).write_bytes(file.read_bytes())
    (folder / "fold_0.int8.onnx").write_bytes(data)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["networks"][0].update(int8_file="fold_0.int8.onnx", int8_sha256=hashlib.sha256(data).hexdigest())
    manifest["inference"]["precision"] = "int8"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    int8_package = load_model_package(folder)
    segmenter = Segmenter(int8_package, SegmentOptions(threads=1, postprocess=False))
    assert segmenter.networks()[0].file == "fold_0.int8.onnx"
    volume = knee()
    fast = segmenter.run(volume).labels.array
    exact = segment(int8_package, volume, exact=True)
    assert Segmenter(int8_package, SegmentOptions(exact=True)).networks()[0].file == "fold_0.onnx"
    for value in (1, 2):
        assert dice(fast, exact, value) >= 0.99


def test_an_int8_default_without_int8_files_is_refused(package, tmp_path: Path) -> None:
    with pytest.raises(ModelPackageError, match="int8"):
        with_inference(package, tmp_path, precision="int8")
    with pytest.raises(InputError, match="int8"):
        Segmenter(package, SegmentOptions(precision="int8"))


def test_unknown_speed_option_values_are_refused(package, tmp_path: Path) -> None:
    with pytest.raises(ModelPackageError, match="roi"):
        with_inference(package, tmp_path, roi="everything")


# ----- slice stride ------------------------------------------------------------------------------
def test_a_slice_stride_runs_about_half_the_slices_and_interpolates_the_rest(package, monkeypatch) -> None:
    volume = knee(shape=(40, 120, 120), spacing=(1.0, 0.9, 0.9))
    calls = counting(monkeypatch)
    exact = segment(package, volume, exact=True)
    n_exact, calls["images"] = calls["images"], 0
    strided = segment(package, volume, slice_stride=2)
    assert calls["images"] < 0.65 * n_exact
    for value in (1, 2):
        assert dice(strided, exact, value) >= 0.97  # the joint line (a step along z) moves by <= 1 slice


def test_refinement_runs_the_slices_whose_neighbours_disagree(package, tmp_path: Path, monkeypatch) -> None:
    volume = knee(shape=(40, 120, 120), spacing=(1.0, 0.9, 0.9))
    exact = segment(package, volume, exact=True)
    calls = counting(monkeypatch)
    plain = segment(package, volume, slice_stride=2)
    n_plain, calls["images"] = calls["images"], 0
    refined = segment(with_inference(package, tmp_path, slice_refine=0.05), volume, slice_stride=2)
    assert calls["images"] > n_plain
    for value in (1, 2):
        assert dice(refined, exact, value) >= max(dice(plain, exact, value), 0.999)


# ----- resampling -----------------------------------------------------------------------------------
def test_a_spacing_within_the_tolerance_is_not_resampled(package) -> None:
    volume = knee(spacing=(2.0, 0.98, 0.98))
    assert plan_case(volume, package.manifest).resampled_shape != volume.shape
    assert plan_case(volume, package.manifest, resample_tolerance=0.03).resampled_shape == volume.shape
    exact = segment(package, volume, exact=True)
    fast = segment(package, volume, resample_tolerance=0.03)
    for value in (1, 2):
        assert dice(fast, exact, value) >= 0.97


def test_a_window_of_the_zoom_equals_the_whole_plane_zoom() -> None:
    rng = np.random.default_rng(0)
    from scipy.ndimage import gaussian_filter

    planes = gaussian_filter(rng.normal(size=(2, 90, 70)), (0, 2, 2)).astype(np.float32)
    whole = resize_slices(planes, (100, 64), 3, clip=(-1e9, 1e9))
    maps = (AxisMap(90, 100), AxisMap(70, 64))
    for window in (((20, 60), (10, 50)), ((-6, 40), (0, 64))):
        iy, ix = input_range(window[0], maps[0], 12), input_range(window[1], maps[1], 12)
        part = zoom_window(planes[:, iy[0] : iy[1], ix[0] : ix[1]], (iy[0], ix[0]), maps, window, 3)
        lo = max(window[0][0], 0)
        expected = whole[:, lo : window[0][1], window[1][0] : window[1][1]]
        assert np.abs(part[:, lo - window[0][0] :] - expected).max() < 1e-5
        assert not part[:, : lo - window[0][0]].any()  # outside the image: zero padding


def test_network_windows_cover_the_box_and_respect_divisibility_and_patch() -> None:
    axis = AxisMap(400, 450)
    lo, hi = network_range((100, 180), axis, 32, 256)
    assert (hi - lo) % 32 == 0 and lo <= axis.to_out(100) - 2 and hi >= axis.to_out(179) + 2
    lo, hi = network_range((100, 180), axis, 32, 256, minimum=256)
    assert hi - lo == 256 and lo >= 0 and hi <= 450
    lo, hi = network_range((0, 400), axis, 32, 256)
    assert hi - lo >= 450  # larger than the patch: a sliding window covers it


# ----- cheaper mirroring -------------------------------------------------------------------------
def test_mirroring_along_one_axis_runs_half_the_tta_images(package, monkeypatch) -> None:
    volume = knee(shape=(6, 120, 140))
    calls = counting(monkeypatch)
    segment(package, volume, exact=True)
    plain, calls["images"] = calls["images"], 0
    one = Segmenter(package, SegmentOptions(threads=1, mirror_axes=(0,))).run(volume)
    assert calls["images"] == 2 * plain
    assert one.settings["tta"] is True and one.settings["mirror_axes"] == (0,)
    with pytest.raises(InputError, match="mirroring"):
        Segmenter(package, SegmentOptions(mirror_axes=(2,)))


# ----- post-processing of two-leg scans ---------------------------------------------------------------
def test_a_package_may_keep_the_other_knee_in_post_processing(package, tmp_path: Path) -> None:
    volume = knee(shape=(20, 120, 200))
    volume.array[:, :, 110:] = volume.array[:, :, :90][:, :, ::-1][:, :, :90]  # the other leg, mirrored
    largest_only = Segmenter(package, SegmentOptions(threads=1)).run(volume).labels.array
    both = Segmenter(with_inference(package, tmp_path), SegmentOptions(threads=1))
    manifest_file = both.package.path / "manifest.json"
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    manifest["postprocessing"]["min_fraction"] = 0.25
    manifest_file.write_text(json.dumps(manifest))
    kept = Segmenter(load_model_package(both.package.path), SegmentOptions(threads=1)).run(volume).labels.array
    for value in (1, 2):
        assert (kept[:, :, :100] == value).sum() > 100 and (kept[:, :, 100:] == value).sum() > 100
        assert min((largest_only[:, :, :100] == value).sum(), (largest_only[:, :, 100:] == value).sum()) == 0


# ----- threads -------------------------------------------------------------------------------------
def test_threads_do_not_change_the_exact_result(package) -> None:
    volume = knee(shape=(10, 120, 140))
    one = Segmenter(package, SegmentOptions(exact=True, threads=1)).run(volume).labels.array
    two = Segmenter(package, SegmentOptions(exact=True, threads=2)).run(volume).labels.array
    assert np.array_equal(one, two)
