"""A short GPU training of the benchmark network, so Dice against the ground truth means something.

Run (on a machine with a GPU; the network must already exist as Python code):
  PYTHONPATH=. python benchmarks/bench_train.py --out OUT [--seconds 300] [--phantoms 32] [--device cuda]

This is NOT the product trainer (that is ``kneeseg-train``, trainer/): it is a plain
PyTorch loop that trains nnU-Net's default 2D network (benchmarks/bench_model.py's plans:
PlainConvUNet, 8 stages, 32..512 features, patch 512 x 512) on phantom slices prepared
the nnU-Net way (in-plane resampling to 0.8 mm with the engine's nnU-Net port, CT
normalisation with the training set's foreground statistics), with mirroring, rotation,
scaling and intensity augmentation and a CE + Dice loss, for a fixed wall-clock budget.
It needs torch and dynamic_network_architectures only (not nnunetv2).

The weights are written as int8 per output channel (plus float32 vectors), lzma-packed
and split into parts below 16 MB (``weights.part*``), because the full float32 network
(185 MB) is too large to bring back from the GPU machine. ``bench_model.py results
--weights weights.part*`` turns them into an nnU-Net results folder; every method of the
benchmark then runs exactly these (dequantised) weights. Validation Dice on held-out
phantoms is computed with the dequantised weights and written to ``train_log.json``.
"""

from __future__ import annotations

import argparse
import io
import json
import lzma
import math
import os
import pydoc
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.bench_model import CONFIGURATION, FEATURES, LABELS, TARGET_SPACING, default_2d_plans  # noqa: E402

PART_BYTES = 15_000_000
AIR_HU = -1024.0


# ----------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------
def prepared_case(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One phantom resampled in-plane to the target spacing: (HU float32, labels uint8, fg HU sample)."""
    from scipy import ndimage

    from kneeseg_app.core.phantom import generate_phantom
    from kneeseg_app.core.preprocess import compute_new_shape, resize_slices

    phantom = generate_phantom(seed)
    ct = phantom.ct.array
    labels = phantom.labels.array
    spacing = phantom.ct.spacing_zyx
    shape = compute_new_shape(ct.shape, spacing, (spacing[0], *TARGET_SPACING))
    hu = resize_slices(ct.astype(np.float32), shape[1:], 3, clip=(float(ct.min()), float(ct.max())))
    out = np.zeros(shape, dtype=np.uint8)
    best = np.zeros(shape, dtype=np.float32)
    for value in range(1, len(LABELS)):
        for z in range(labels.shape[0]):
            factors = [n / o for n, o in zip(shape[1:], labels.shape[1:])]
            m = ndimage.zoom((labels[z] == value).astype(np.float32), factors, order=1, mode="nearest", grid_mode=True)
            take = (m >= 0.5) & (m > best[z])
            out[z][take] = value
            best[z] = np.maximum(best[z], m)
    rng = np.random.default_rng(seed)
    fg = ct[labels > 0]
    sample = rng.choice(fg, size=min(fg.size, 200_000), replace=False).astype(np.float32) if fg.size else fg.astype(np.float32)
    return hu.astype(np.int16), out, sample


def intensity_properties(samples: list[np.ndarray]) -> dict[str, float]:
    """nnU-Net's foreground intensity fingerprint (CTNormalization uses percentiles, mean, std)."""
    values = np.concatenate(samples).astype(np.float64)
    return {
        "max": float(values.max()), "mean": float(values.mean()), "median": float(np.median(values)),
        "min": float(values.min()), "percentile_00_5": float(np.percentile(values, 0.5)),
        "percentile_99_5": float(np.percentile(values, 99.5)), "std": float(values.std()),
    }


def load_cases(seeds: list[int], workers: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    with ProcessPoolExecutor(workers) as pool:
        return list(pool.map(prepared_case, seeds))


# ----------------------------------------------------------------------------
# network
# ----------------------------------------------------------------------------
def build_network(plans: dict[str, Any]) -> Any:
    """nnU-Net's get_network_from_plans without importing nnunetv2 (same classes, same init)."""
    arch = plans["configurations"][CONFIGURATION]["architecture"]
    kwargs = dict(arch["arch_kwargs"])
    for key in arch["_kw_requires_import"]:
        if kwargs[key] is not None:
            kwargs[key] = pydoc.locate(kwargs[key])
    network_class = pydoc.locate(arch["network_class_name"])
    network = network_class(input_channels=1, num_classes=len(LABELS), deep_supervision=False, **kwargs)
    network.apply(network.initialize)
    return network


def pack_weights(state: dict[str, Any], info: dict[str, Any]) -> bytes:
    """int8 per output channel for matrices/kernels, float32 for vectors; lzma-compressed."""
    import torch

    tensors: dict[str, Any] = {}
    for name, value in state.items():
        if name.startswith("decoder.encoder."):
            continue  # the decoder holds a reference to the encoder: same tensors
        value = value.detach().float().cpu()
        if value.dim() >= 2:
            flat = value.reshape(value.shape[0], -1)
            scale = flat.abs().amax(dim=1).clamp_min(1e-12) / 127.0
            q = torch.round(flat / scale[:, None]).clamp(-127, 127).to(torch.int8).reshape(value.shape)
            tensors[name] = {"q": q, "scale": scale}
        else:
            tensors[name] = value
    buffer = io.BytesIO()
    torch.save({"tensors": tensors, "info": info}, buffer)
    return lzma.compress(buffer.getvalue(), preset=6)


def dequantized_state(packed: bytes) -> dict[str, Any]:
    import torch

    blob = torch.load(io.BytesIO(lzma.decompress(packed)), map_location="cpu", weights_only=False)
    state = {}
    for name, entry in blob["tensors"].items():
        if isinstance(entry, dict):
            state[name] = entry["q"].float() * entry["scale"].reshape(-1, *([1] * (entry["q"].dim() - 1)))
        else:
            state[name] = entry
    for name in list(state):
        if name.startswith("encoder."):
            state["decoder." + name] = state[name]
    return state


# ----------------------------------------------------------------------------
# training
# ----------------------------------------------------------------------------
class SliceSampler:
    """Random 512 x 512 training crops with augmentation, made on the GPU."""

    def __init__(self, cases: list[tuple[Any, Any]], patch: int, device: Any, seed: int = 0) -> None:
        self.cases = cases
        self.patch = patch
        self.device = device
        self.rng = np.random.default_rng(seed)
        self.weights = np.array([c[0].shape[0] for c in cases], dtype=np.float64)
        self.weights /= self.weights.sum()

    def crop(self, image: Any, labels: Any) -> tuple[Any, Any]:
        import torch.nn.functional as F

        p = self.patch
        h, w = image.shape
        ph, pw = max(p - h, 0), max(p - w, 0)
        if ph or pw:
            pads = (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2)
            image = F.pad(image, pads, value=0.0)
            labels = F.pad(labels, pads, value=0)
            h, w = image.shape
        y = int(self.rng.integers(0, h - p + 1))
        x = int(self.rng.integers(0, w - p + 1))
        return image[y : y + p, x : x + p], labels[y : y + p, x : x + p]

    def batch(self, size: int) -> tuple[Any, Any]:
        import torch
        import torch.nn.functional as F

        images, targets = [], []
        for case in self.rng.choice(len(self.cases), size=size, p=self.weights):
            image, labels = self.cases[case]
            z = int(self.rng.integers(0, image.shape[0]))
            a, b = self.crop(image[z], labels[z])
            images.append(a)
            targets.append(b)
        x = torch.stack(images)[:, None]
        y = torch.stack(targets)[:, None].float()
        # spatial augmentation: rotation, scaling, mirroring (nnU-Net's mirror axes 0 and 1)
        angle = torch.from_numpy(self.rng.uniform(-0.3, 0.3, size)).float().to(self.device)
        scale = torch.from_numpy(self.rng.uniform(0.8, 1.25, size)).float().to(self.device)
        flip_y = torch.from_numpy(self.rng.choice([-1.0, 1.0], size)).float().to(self.device)
        flip_x = torch.from_numpy(self.rng.choice([-1.0, 1.0], size)).float().to(self.device)
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        zero = torch.zeros_like(cos)
        theta = torch.stack([torch.stack([cos * flip_x, -sin * flip_y, zero], 1),
                             torch.stack([sin * flip_x, cos * flip_y, zero], 1)], 1)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        y = F.grid_sample(y, grid, mode="nearest", padding_mode="zeros", align_corners=False)
        # intensity augmentation: brightness, contrast, noise
        gain = torch.from_numpy(self.rng.uniform(0.85, 1.15, (size, 1, 1, 1))).float().to(self.device)
        mean = x.mean(dim=(2, 3), keepdim=True)
        contrast = torch.from_numpy(self.rng.uniform(0.85, 1.15, (size, 1, 1, 1))).float().to(self.device)
        x = ((x - mean) * contrast + mean) * gain
        noise = torch.from_numpy(self.rng.uniform(0, 0.1, (size, 1, 1, 1))).float().to(self.device)
        x = x + torch.randn_like(x) * noise
        return x, y[:, 0].long()


def dice_ce_loss(logits: Any, target: Any) -> Any:
    import torch
    import torch.nn.functional as F

    ce = F.cross_entropy(logits, target)
    probs = torch.softmax(logits.float(), 1)[:, 1:]
    onehot = F.one_hot(target, logits.shape[1]).permute(0, 3, 1, 2)[:, 1:].float()
    inter = (probs * onehot).sum(dim=(0, 2, 3))
    denom = probs.sum(dim=(0, 2, 3)) + onehot.sum(dim=(0, 2, 3))
    dice = (2 * inter + 1e-5) / (denom + 1e-5)
    return ce + (1 - dice.mean())


def train(network: Any, sampler: SliceSampler, seconds: float, batch: int, lr: float, log: list) -> int:
    import torch

    optimizer = torch.optim.AdamW(network.parameters(), lr=lr, weight_decay=1e-4)
    network.train()
    start = time.perf_counter()
    step = 0
    while True:
        fraction = (time.perf_counter() - start) / seconds
        if fraction >= 1:
            break
        for group in optimizer.param_groups:
            warm = min(1.0, (step + 1) / 100)
            group["lr"] = lr * warm * 0.5 * (1 + math.cos(math.pi * min(fraction, 1.0)))
        x, y = sampler.batch(batch)
        with torch.autocast(device_type=x.device.type, dtype=torch.bfloat16, enabled=x.device.type == "cuda"):
            logits = network(x)
        loss = dice_ce_loss(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), 12)
        optimizer.step()
        step += 1
        if step % 50 == 0:
            log.append({"step": step, "seconds": round(time.perf_counter() - start, 1), "loss": float(loss.detach())})
            print(f"step {step} {time.perf_counter() - start:.0f}s loss {float(loss):.4f}", flush=True)
    return step


def validate(network: Any, cases: list[tuple[Any, Any]], div: int = 128) -> dict[str, float]:
    """Dice per bone on whole held-out cases (full slices, no mirroring) at the target spacing."""
    import torch
    import torch.nn.functional as F

    network.eval()
    inter = np.zeros(len(LABELS))
    total = np.zeros(len(LABELS))
    with torch.no_grad(), torch.autocast(device_type="cuda", dtype=torch.bfloat16, enabled=torch.cuda.is_available()):
        for image, labels in cases:
            h, w = image.shape[1:]
            ph, pw = (-h) % div, (-w) % div
            for z in range(0, image.shape[0], 16):
                x = F.pad(image[z : z + 16][:, None], (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
                pred = network(x).float().argmax(1)[:, ph // 2 : ph // 2 + h, pw // 2 : pw // 2 + w]
                ref = labels[z : z + 16]
                for value in range(1, len(LABELS)):
                    inter[value] += float(((pred == value) & (ref == value)).sum())
                    total[value] += float((pred == value).sum() + (ref == value).sum())
    names = {v: k for k, v in LABELS.items()}
    return {names[v]: 2 * inter[v] / max(total[v], 1) for v in range(1, len(LABELS))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--phantoms", type=int, default=32)
    parser.add_argument("--val-phantoms", type=int, default=2)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch", type=int, default=12)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--features", default=",".join(map(str, FEATURES)), help="features per stage (tests: a tiny net)")
    parser.add_argument("--patch", type=int, default=512)
    args = parser.parse_args(argv)

    import torch

    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    device = torch.device(args.device)
    started = time.perf_counter()
    seeds = list(range(7000, 7000 + args.phantoms + args.val_phantoms))
    cases = load_cases(seeds, args.workers)
    print(f"{len(cases)} phantoms prepared in {time.perf_counter() - started:.0f}s", flush=True)
    props = intensity_properties([c[2] for c in cases[: args.phantoms]])
    features = tuple(int(f) for f in args.features.split(","))
    plans = default_2d_plans(props, features, (args.patch, args.patch))

    def to_device(hu: np.ndarray, labels: np.ndarray) -> tuple[Any, Any]:
        norm = (np.clip(hu.astype(np.float32), props["percentile_00_5"], props["percentile_99_5"]) - props["mean"]) / props["std"]
        return torch.from_numpy(norm).to(device), torch.from_numpy(labels.astype(np.int64)).to(device)

    train_cases = [to_device(c[0], c[1]) for c in cases[: args.phantoms]]
    val_cases = [to_device(c[0], c[1]) for c in cases[args.phantoms :]]
    network = build_network(plans).to(device)
    log: list[dict[str, Any]] = []
    steps = train(network, SliceSampler(train_cases, args.patch, device), args.seconds, args.batch, args.lr, log)
    info = {"intensities": props, "features": list(features), "cases": args.phantoms, "steps": steps,
            "seconds": args.seconds, "seeds": f"{seeds[0]}-{seeds[args.phantoms - 1]}"}
    packed = pack_weights(network.state_dict(), info)
    network.load_state_dict({k: v.to(device) for k, v in dequantized_state(packed).items()})
    dice = validate(network, val_cases)
    info["validation_dice_dequantized"] = dice
    print(f"{steps} steps; validation Dice (int8-packed weights) {dice}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    packed = pack_weights(network.state_dict(), info)
    for i in range(0, len(packed), PART_BYTES):
        (args.out / f"weights.part{i // PART_BYTES}").write_bytes(packed[i : i + PART_BYTES])
    (args.out / "train_log.json").write_text(json.dumps({"info": info, "log": log}, indent=1))
    print(f"done in {time.perf_counter() - started:.0f}s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
