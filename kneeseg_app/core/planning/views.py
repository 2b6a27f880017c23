"""Pictures of a planned knee: axial, coronal and sagittal slices with its landmarks and lines,
and a shaded picture of the bones seen from the front (the report's 3D view).

Slices are cut along the scanner's axes (the volume is first put in LPS order, so the
pictures read like a radiologist's: patient's right on the left of the axial and coronal
views, anterior on the left of the sagittal view, superior up). Landmarks within 5 mm of a
slice are drawn filled, others hollow (projected). Pillow only; PNG bytes out.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from kneeseg_app.core.planning.model import KneePlan
from kneeseg_app.core.volume import Volume

WINDOW = (-500.0, 1300.0)
TINTS = {1: (255, 140, 40), 2: (60, 150, 255)}
COLOURS = {"femur": (255, 60, 60), "tibia": (40, 220, 120)}
LINES = {
    "axial": (
        ("epicondyle_lateral", "epicondyle_medial"),
        ("posterior_medial", "posterior_lateral"),
        ("notch_centre", "trochlear_groove"),
    ),
    "coronal": (("distal_medial", "distal_lateral"), ("plateau_medial", "plateau_lateral")),
    "sagittal": (),
}
VIEW_SIZE_PX = 360


@dataclass(frozen=True)
class Canonical:
    """A volume re-ordered so that array axes (z, y, x) run along +S, +P, +L."""

    array: np.ndarray
    labels: np.ndarray
    origin: np.ndarray
    spacing_zyx: np.ndarray

    def index(self, lps: np.ndarray) -> np.ndarray:
        """Continuous (z, y, x) index of an LPS point."""
        return ((np.asarray(lps, dtype=np.float64) - self.origin) / self.spacing_zyx[::-1])[::-1]


def canonical(image: Volume, labels: np.ndarray) -> Canonical:
    """Permute and flip to LPS order (nearest axis for oblique scans)."""
    d = image.direction
    itk_to_lps = [int(np.argmax(np.abs(d[:, j]))) for j in range(3)]  # ITK axis j (x, y, z) -> LPS axis
    signs = [float(np.sign(d[itk_to_lps[j], j])) for j in range(3)]
    arr, lab = image.array, labels
    spacing_xyz = np.asarray(image.spacing_xyz)
    # array axis a is ITK axis 2 - a; we want array axis for LPS axis z, y, x
    order = [2 - itk_to_lps.index(lps) for lps in (2, 1, 0)]
    arr, lab = np.transpose(arr, order), np.transpose(lab, order)
    spacing = np.array([spacing_xyz[itk_to_lps.index(lps)] for lps in (2, 1, 0)])
    corner = np.asarray(image.origin_xyz, dtype=np.float64).copy()
    for out_axis, lps in enumerate((2, 1, 0)):
        j = itk_to_lps.index(lps)
        if signs[j] < 0:
            arr, lab = np.flip(arr, out_axis), np.flip(lab, out_axis)
            n = image.shape[2 - j]
            corner = corner + d[:, j] * spacing_xyz[j] * (n - 1)
    return Canonical(arr, lab, corner, spacing)


def _grey(values: np.ndarray, is_ct: bool) -> np.ndarray:
    if not is_ct:
        return np.where(values > 0, 200, 30).astype(np.uint8)
    lo, hi = WINDOW
    return (np.clip((values.astype(np.float32) - lo) / (hi - lo), 0, 1) * 255).astype(np.uint8)


def _rgb(grey: np.ndarray, lab: np.ndarray) -> np.ndarray:
    rgb = np.repeat(grey[..., None], 3, axis=2).astype(np.float32)
    for value, tint in TINTS.items():
        m = lab == value
        rgb[m] = 0.65 * rgb[m] + 0.35 * np.asarray(tint, dtype=np.float32)
    return rgb.astype(np.uint8)


def knee_views(canon: Canonical, knee: KneePlan, is_ct: bool) -> dict[str, bytes]:
    """PNG pictures of one knee: 'axial', 'coronal', 'sagittal'."""
    points = {}
    for bone_name, bone in knee.bones.items():
        for f in bone.findings.values():
            if f.kind == "landmark" and f.point is not None:
                points[f.name] = (canon.index(f.point), COLOURS[bone_name])
    if not points:
        return {}
    centre = np.mean([p for p, _ in points.values()], axis=0)
    box_lo = np.maximum(np.floor(np.min([p for p, _ in points.values()], axis=0) - 60.0 / canon.spacing_zyx), 0).astype(
        int
    )
    box_hi = np.minimum(
        np.ceil(np.max([p for p, _ in points.values()], axis=0) + 60.0 / canon.spacing_zyx),
        np.array(canon.array.shape) - 1,
    ).astype(int)
    planes = {"axial": 0, "coronal": 1, "sagittal": 2}
    cuts = {
        "axial": _level(points, ("epicondyle_medial", "epicondyle_lateral"), 0, centre),
        "coronal": _level(points, ("distal_medial", "distal_lateral"), 1, centre),
        "sagittal": _level(points, ("plateau_medial",), 2, centre),
    }
    out = {}
    for view, axis in planes.items():
        out[view] = _draw_view(canon, view, axis, int(round(cuts[view])), box_lo, box_hi, points, is_ct)
    out["3D, from the front"] = _surface_view(canon, box_lo, box_hi, points)
    return out


def _level(points: dict, names: tuple[str, ...], axis: int, centre: np.ndarray) -> float:
    found = [points[n][0][axis] for n in names if n in points]
    return float(np.mean(found)) if found else float(centre[axis])


def _draw_view(
    canon: Canonical, view: str, axis: int, cut: int, lo: np.ndarray, hi: np.ndarray, points: dict, is_ct: bool
) -> bytes:
    cut = int(np.clip(cut, 0, canon.array.shape[axis] - 1))
    sl = [slice(lo[a], hi[a] + 1) for a in range(3)]
    sl[axis] = cut
    grey = _grey(canon.array[tuple(sl)], is_ct)
    lab = canon.labels[tuple(sl)]
    rgb = _rgb(grey, lab)
    other = [a for a in range(3) if a != axis]  # (row axis, column axis) in z, y, x
    flip_rows = other[0] == 0  # superior up
    if flip_rows:
        rgb = rgb[::-1]
    rows_mm = rgb.shape[0] * canon.spacing_zyx[other[0]]
    cols_mm = rgb.shape[1] * canon.spacing_zyx[other[1]]
    scale = VIEW_SIZE_PX / max(rows_mm, cols_mm)
    size = (max(int(cols_mm * scale), 1), max(int(rows_mm * scale), 1))
    image = Image.fromarray(rgb).resize(size, Image.BILINEAR)
    draw = ImageDraw.Draw(image)

    def pixel(idx: np.ndarray) -> tuple[float, float]:
        r = idx[other[0]] - lo[other[0]]
        if flip_rows:
            r = (hi[other[0]] - lo[other[0]]) - r
        c = idx[other[1]] - lo[other[1]]
        return ((c + 0.5) * size[0] / rgb.shape[1], (r + 0.5) * size[1] / rgb.shape[0])

    for a, b in LINES[view]:
        if a in points and b in points:
            draw.line([pixel(points[a][0]), pixel(points[b][0])], fill=(255, 255, 0), width=2)
    for idx, colour in points.values():
        x, y = pixel(idx)
        near = abs(idx[axis] - cut) * canon.spacing_zyx[axis] <= 5.0
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], outline=colour, fill=colour if near else None, width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _surface_view(canon: Canonical, lo: np.ndarray, hi: np.ndarray, points: dict) -> bytes:
    """The bones seen from the front: a shaded depth picture of the labels, landmarks on top."""
    lab = canon.labels[lo[0] : hi[0] + 1, lo[1] : hi[1] + 1, lo[2] : hi[2] + 1] > 0  # (z, y, x)
    hit = lab.any(axis=1)
    first = np.where(hit, lab.argmax(axis=1), lab.shape[1]).astype(np.float32)  # nearest to the front
    depth_mm = first * canon.spacing_zyx[1]
    dz, dx = np.gradient(depth_mm, canon.spacing_zyx[0], canon.spacing_zyx[2])
    shade = 1.0 / np.sqrt(1.0 + dz * dz + dx * dx)  # light from the viewer
    rgb = np.zeros((*hit.shape, 3), np.float32)
    zz, xx = np.nonzero(hit)
    value = canon.labels[lo[0] + zz, lo[1] + first[zz, xx].astype(int), lo[2] + xx]
    for label, tint in TINTS.items():
        sel = value == label
        rgb[zz[sel], xx[sel]] = np.asarray(tint, np.float32) * (0.25 + 0.75 * shade[zz[sel], xx[sel], None])
    rgb = rgb[::-1].astype(np.uint8)  # superior up
    rows_mm, cols_mm = rgb.shape[0] * canon.spacing_zyx[0], rgb.shape[1] * canon.spacing_zyx[2]
    scale = VIEW_SIZE_PX / max(rows_mm, cols_mm)
    size = (max(int(cols_mm * scale), 1), max(int(rows_mm * scale), 1))
    image = Image.fromarray(rgb).resize(size, Image.BILINEAR)
    draw = ImageDraw.Draw(image)
    for idx, colour in points.values():
        x = (idx[2] - lo[2] + 0.5) * size[0] / rgb.shape[1]
        y = (hi[0] - idx[0] + 0.5) * size[1] / rgb.shape[0]
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], outline=(255, 255, 255), fill=colour, width=1)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()
