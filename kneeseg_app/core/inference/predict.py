"""Running networks over an image: batches, mirroring TTA, the Gaussian-weighted sliding
window, fold averaging, and the clocks and progress counters around them.

Shared by the engine's whole-plane (nnU-Net-exact) and bone-window paths; each piece
is nnU-Net's ``predict_sliding_window_return_logits`` logic in numpy and onnxruntime.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from kneeseg_app.core.errors import Cancelled, ModelError
from kneeseg_app.core.inference.sliding_window import (
    Tile,
    batched,
    compute_steps,
    gaussian_importance,
    mirror_combinations,
    tiles_from_steps,
    weight_sum,
)
from kneeseg_app.core.model.package import OnnxNetwork
from kneeseg_app.core.progress import CancelToken, ProgressCallback

BACKGROUND_LOGIT = 10.0
"""Logit given to background (and its negative to bones) in skipped air tiles."""


class StageClock:
    """Seconds spent per stage, summed over interleaved slabs."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - start


class MonotoneProgress:
    """Forwards progress, never letting the fraction go backwards; 1.0 is reached by ``done``."""

    def __init__(self, callback: ProgressCallback) -> None:
        self._callback = callback
        self._last = 0.0

    def __call__(self, stage: str, fraction: float) -> None:
        self._last = max(self._last, min(max(float(fraction), 0.0), 1.0))
        self._callback(stage, self._last)


class TileCounter:
    """Maps tiles done onto the 'Segmenting' part of the progress bar."""

    START, END = 0.05, 0.95

    def __init__(self, report: MonotoneProgress, total: int) -> None:
        self.report = report
        self.total = max(total, 1)
        self.done = 0

    def tick(self, count: int) -> None:
        self.done += count
        self.report("Segmenting", self.START + (self.END - self.START) * min(self.done / self.total, 1.0))


class Predictor:
    """Runs batches through a network with mirroring TTA; stops when cancelled.

    A cancel listener sets ``RunOptions.terminate`` so even a long onnxruntime call in
    flight ends at once; its error is reported as :class:`Cancelled`.
    """

    def __init__(self, mirror_axes: Sequence[int], cancel: CancelToken, clock: StageClock) -> None:
        import onnxruntime as ort

        self.combinations = mirror_combinations(mirror_axes)
        self.cancel = cancel
        self.clock = clock
        self.run_options = ort.RunOptions()
        self._remove_listener = cancel.add_listener(self._terminate)

    def _terminate(self) -> None:
        self.run_options.terminate = True

    def close(self) -> None:
        self._remove_listener()

    def _run(self, network: OnnxNetwork, batch: np.ndarray) -> np.ndarray:
        self.cancel.raise_if_cancelled()
        try:
            return network.run(np.ascontiguousarray(batch, dtype=np.float32), self.run_options)
        except Exception as exc:
            if self.cancel.cancelled:
                raise Cancelled() from None
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"The network {network.file} failed while segmenting ({first}).") from exc

    def predict(self, network: OnnxNetwork, batch: np.ndarray) -> np.ndarray:
        """Logits for a (N, 1, *patch) batch, averaged over mirrorings as nnU-Net does."""
        with self.clock("network"):
            prediction = self._run(network, batch)
            for axes in self.combinations:
                flip_axes = tuple(a + 2 for a in axes)
                mirrored = self._run(network, np.flip(batch, flip_axes))
                prediction += np.flip(mirrored, flip_axes)
            if self.combinations:
                prediction /= len(self.combinations) + 1
        return prediction


@dataclass
class RunContext:
    """What one segmentation run works with, handed to each path of the engine."""

    networks: list[OnnxNetwork]
    predictor: Predictor
    report: MonotoneProgress
    clock: StageClock
    cancel: CancelToken
    pool: Executor | None
    """Threads for the per-slice numpy/scipy work (resampling); None: work serially."""
    top: np.ndarray | None = None
    """Where to record each voxel's top-class probability (uint8, source grid; see :class:`TopClass`)."""


@dataclass(frozen=True)
class Window:
    """What the sliding window needs besides the image (shared by all slabs of one size)."""

    patch: tuple[int, ...]
    steps: list[list[int]]
    gaussian: np.ndarray
    weights: np.ndarray
    n_labels: int


def make_window(
    spatial: Sequence[int], patch: Sequence[int], step: float, gaussian: bool, sigma_scale: float, n_labels: int
) -> Window:
    """Tiles of ``patch`` over an image of size ``spatial`` (at least the patch), with weights."""
    patch = tuple(int(p) for p in patch)
    spatial = tuple(int(s) for s in spatial)
    steps = compute_steps(spatial, patch, step)
    importance = gaussian_importance(patch, sigma_scale, 10.0) if gaussian else np.ones(patch, dtype=np.float32)
    return Window(patch, steps, importance, weight_sum(spatial, patch, steps, importance), n_labels)


def tiles_for(image_shape: Sequence[int], window: Window, dims: int) -> list[Tile]:
    return tiles_from_steps(window.steps, image_shape[0] if dims == 2 else None)


def tile_in_body(tile: Tile, patch: Sequence[int], boxes: list[tuple[int, int, int, int] | None]) -> bool:
    """Whether a tile overlaps the body box of any slice it covers."""
    if tile.slice_index is not None:
        slices, (ty, tx) = [tile.slice_index], tile.start
    else:
        tz, ty, tx = tile.start
        slices = range(tz, min(tz + patch[0], len(boxes)))
    ph, pw = patch[-2:]
    for d in slices:
        box = boxes[d]
        if box is not None and ty < box[1] and box[0] < ty + ph and tx < box[3] and box[2] < tx + pw:
            return True
    return False


def sliding_window(
    predictor: Predictor,
    network: OnnxNetwork,
    image: np.ndarray,
    window: Window,
    dims: int,
    batch_size: int,
    boxes: list[tuple[int, int, int, int] | None] | None,
    counter: TileCounter,
) -> np.ndarray:
    """nnU-Net's sliding-window prediction of a padded (k, H, W) or (D, H, W) image.

    Returns float32 logits (C, *image.shape), Gaussian-weighted and divided by the
    weight sum. Tiles in air (``boxes`` given) are not run: they count as confident
    background.
    """
    logits = np.zeros((window.n_labels, *image.shape), dtype=np.float32)
    tiles = tiles_for(image.shape, window, dims)
    if boxes is not None:
        run = [t for t in tiles if tile_in_body(t, window.patch, boxes)]
        skipped = [t for t in tiles if not tile_in_body(t, window.patch, boxes)]
    else:
        run, skipped = tiles, []
    single = len(window.steps[-1]) == 1 and len(window.steps[-2]) == 1 and (dims == 2 or len(window.steps[0]) == 1)
    for batch in batched(run, batch_size):
        x = np.stack([image[t.window(window.patch)] for t in batch])[:, None]
        prediction = predictor.predict(network, x)
        if single:  # one tile covers the image: the weighting cancels out (up to rounding)
            for i, tile in enumerate(batch):
                logits[(slice(None), *tile.window(window.patch))] = prediction[i]
        else:
            prediction *= window.gaussian
            for i, tile in enumerate(batch):
                logits[(slice(None), *tile.window(window.patch))] += prediction[i]
        counter.tick(len(batch))
    if skipped:
        background = np.full(window.n_labels, -BACKGROUND_LOGIT, dtype=np.float32)
        background[0] = BACKGROUND_LOGIT
        fill = background.reshape(-1, *([1] * dims)) * window.gaussian
        for tile in skipped:
            logits[(slice(None), *tile.window(window.patch))] += fill
        counter.tick(len(skipped))
    if not single or skipped:
        logits /= window.weights
    return logits


def predict_folds(
    networks: list[OnnxNetwork],
    predictor: Predictor,
    image: np.ndarray,
    window: Window,
    dims: int,
    batch_size: int,
    boxes: list[tuple[int, int, int, int] | None] | None,
    counter: TileCounter,
) -> np.ndarray:
    """Logits of every fold, averaged (nnU-Net sums fold logits, then divides)."""
    logits: np.ndarray | None = None
    for network in networks:
        fold = sliding_window(predictor, network, image, window, dims, batch_size, boxes, counter)
        if logits is None:
            logits = fold
        else:
            logits += fold
    assert logits is not None
    if len(networks) > 1:
        logits /= len(networks)
    return logits


def argmax_into(best: np.ndarray | None, labels: np.ndarray, channel: np.ndarray, index: int) -> np.ndarray:
    """Running argmax over channels (first maximum wins, as ``np.argmax``)."""
    if best is None:
        labels[...] = 0
        return channel
    better = channel > best
    labels[better] = index
    np.maximum(best, channel, out=best)
    return best


class TopClass:
    """Running argmax over channels given one at a time (the labels :func:`argmax_into` gives), and,
    when ``top`` is given, the top-class softmax probability as a byte (255 = 1.0) written there.

    The softmax is accumulated as a running sum of ``exp(logit - running max)``: one extra
    array, two exponentials per channel, no second pass over the channels. The result
    checks judge the network's confidence from it.
    """

    def __init__(self, labels: np.ndarray, top: np.ndarray | None = None) -> None:
        self.labels = labels
        self.top = top
        self._best: np.ndarray | None = None
        self._sum: np.ndarray | None = None

    def add(self, channel: np.ndarray, index: int) -> None:
        if self.top is None:
            self._best = argmax_into(self._best, self.labels, channel, index)
            return
        channel = np.asarray(channel, dtype=np.float32)
        if self._best is None:
            self.labels[...] = 0
            self._best = channel.copy()
            self._sum = np.ones_like(channel)
            return
        assert self._sum is not None
        diff = channel - self._best
        self.labels[diff > 0] = index
        decay = np.exp(-np.abs(diff))
        self._sum = np.where(diff > 0, self._sum * decay + 1.0, self._sum + decay)
        np.maximum(self._best, channel, out=self._best)

    def finish(self) -> None:
        """Write the probabilities (call once after the last channel)."""
        if self.top is not None and self._sum is not None:
            self.top[...] = np.clip(np.rint(255.0 / self._sum), 0, 255).astype(np.uint8)
