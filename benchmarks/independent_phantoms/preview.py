"""PNG montages of a phantom case, so a person can see whether it looks like knee CT.

EVALUATION ONLY, never training. Axial slices at the distal femur, the joint, the
plateau and the shaft at full resolution, plus a coronal and a sagittal reformat of a
coarser rendering of the same case, in a bone window and a soft-tissue window, with the
femur (red) and tibia (green) outlines.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from benchmarks.independent_phantoms.params import Case
from benchmarks.independent_phantoms.render import grid_of, render


def _window(img: np.ndarray, centre: float, width: float) -> np.ndarray:
    return np.clip((img - centre + width / 2) / width, 0.0, 1.0)


def _outline(rgb: np.ndarray, labels: np.ndarray) -> np.ndarray:
    for value, colour in ((1, (1.0, 0.2, 0.2)), (2, (0.2, 1.0, 0.2))):
        mask = labels == value
        edge = mask & ~(np.roll(mask, 1, 0) & np.roll(mask, -1, 0) & np.roll(mask, 1, 1) & np.roll(mask, -1, 1))
        rgb[edge] = colour
    return rgb


def axial_slices(case: Case, heights_mm: tuple[float, ...]) -> list[tuple[float, np.ndarray, np.ndarray]]:
    """(z, HU, labels) of the slices nearest the given heights above the knee centre."""
    grid = grid_of(case.scanner)
    knee_z = case.legs[0].knee_xyz[2]
    wanted = {int(np.argmin(np.abs(grid.z - (knee_z + h)))) for h in heights_mm}
    return [(float(grid.z[k]), img, lab) for k, img, lab in render(case, only=sorted(wanted))]


def reformat_volume(case: Case, matrix: int = 192, spacing_mm: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """A coarse rendering of the case (same FOV and extent) for coronal and sagittal views."""
    scanner = case.scanner
    length = scanner.slices * scanner.slice_spacing_mm
    coarse = replace(
        scanner,
        matrix=matrix,
        slice_spacing_mm=spacing_mm,
        slice_thickness_mm=spacing_mm,
        slices=max(2, int(length / spacing_mm)),
    )
    slices = list(render(replace(case, scanner=coarse)))
    return np.stack([s[1] for s in slices]), np.stack([s[2] for s in slices])


def write_montage(case: Case, path: Path) -> Path:
    """Write a PNG: top row axial slices (bone window), bottom row soft window + reformats."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    axials = axial_slices(case, (60.0, 20.0, 2.0, -15.0, -60.0))
    vol, lab = reformat_volume(case)
    fig, axes = plt.subplots(2, 5, figsize=(20, 8.5))
    for ax, (z, img, labels) in zip(axes[0], axials):
        ax.imshow(_outline(np.dstack([_window(img, 400, 1800)] * 3), labels))
        ax.set_title(f"z={z:.0f} mm")
    for ax, (z, img, _labels) in zip(axes[1][:3], axials[:3]):
        ax.imshow(_window(img, 40, 400), cmap="gray")
        ax.set_title(f"soft window z={z:.0f}")
    px = case.scanner.fov_mm / 192
    aspect = 2.0 / px
    cx = int(np.argmax((lab > 0).sum(axis=(0, 1)))) if (lab > 0).any() else vol.shape[2] // 2
    cy = int(np.argmax((lab > 0).sum(axis=(0, 2)))) if (lab > 0).any() else vol.shape[1] // 2
    axes[1][3].imshow(_outline(np.dstack([_window(vol[::-1, cy, :], 400, 1800)] * 3), lab[::-1, cy, :]), aspect=aspect)
    axes[1][3].set_title("coronal")
    axes[1][4].imshow(_outline(np.dstack([_window(vol[::-1, :, cx], 400, 1800)] * 3), lab[::-1, :, cx]), aspect=aspect)
    axes[1][4].set_title("sagittal")
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(f"{case.name}: {case.variation}")
    fig.tight_layout()
    fig.savefig(path, dpi=60)
    plt.close(fig)
    return path
