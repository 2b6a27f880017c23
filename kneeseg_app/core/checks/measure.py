"""Measure each labelled bone once, cheaply, for every result check.

All checks read the same :class:`BoneMeasure` objects, so the label map is scanned
once per bone: only the box around the labels is looked at, and per-component numbers
come from ``np.bincount`` over the bone's voxels, never from full-size masks. That keeps
the checks well under a second on a 512x512x300 CT.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from kneeseg_app.core.volume import Volume

AIR_HU = -500.0
"""Below this a voxel is air (or the padding outside the scanner's field of view)."""
DENSE_HU = 300.0
"""Above this a voxel is dense bone (cortex, sclerotic or cancellous bone), not soft tissue."""
_FULL = np.ones((3, 3, 3), dtype=bool)
_IN_PLANE = np.array([[[0, 1, 0], [1, 1, 1], [0, 1, 0]]], dtype=bool)
SHELL_PIXELS = 2
MIN_PIXEL_MM = 0.6
"""Finer in-plane pixels are looked at every n-th row and column (see :func:`measure_bones`)."""
SHELL_SLICES = 48
"""At most about this many slices of a piece are looked at for its surroundings."""
SURROUNDINGS_CHECKED = 8
"""Only the largest pieces get the (dilation-based) surroundings test: it keeps the cost bounded."""


@dataclass(frozen=True)
class ComponentMeasure:
    """One connected piece of a bone."""

    voxels: int
    volume_ml: float
    centroid_lps: tuple[float, float, float]
    box: tuple[slice, slice, slice]
    """The component's bounding box in full-volume (z, y, x) indices."""
    air_fraction: float
    """Share of the component's voxels that are air."""
    surrounding_air_fraction: float
    """Share of air in a thin in-plane shell around the component (bone inside a leg is wrapped in
    soft tissue); NaN for the small pieces not looked at."""
    dense_fraction: float
    superior_range_mm: tuple[float, float]
    """Lowest and highest LPS S coordinate (mm) of the component's voxel centres."""
    max_area_cm2: float
    """Largest cross-section across the body axis (on one slice for an axial CT)."""
    slices: tuple[int, int]
    """First and last slice (array axis 0) holding the component."""


@dataclass(frozen=True)
class BoneMeasure:
    """Everything the checks need to know about one label."""

    label: int
    name: str
    voxels: int
    volume_ml: float
    slice_area_cm2: np.ndarray
    """Cross-section (cm^2) across the body axis at every index of :attr:`body_axis` (the array axis
    closest to head-feet: axis 0, the slices, for an axial CT)."""
    components: tuple[ComponentMeasure, ...]
    """Largest first."""
    hu_p90: float
    dense_fraction: float
    air_fraction: float
    edge_slices: tuple[int, ...]
    """Slices where the bone touches a side of the image across the body axis (it may be cut off there)."""
    body_axis: int = 0

    @property
    def present(self) -> bool:
        return self.voxels > 0

    @property
    def slices(self) -> np.ndarray:
        return np.flatnonzero(self.slice_area_cm2 > 0)


def body_axis(volume: Volume) -> int:
    """The array axis (0 z, 1 y, 2 x) closest to the patient's head-feet axis (0 for an axial CT)."""
    # array axis a is ITK axis 2 - a; row 2 of the direction matrix is each ITK axis' S component
    return int(np.argmax(np.abs(np.asarray(volume.direction)[2, ::-1])))


def cross_section_cm2(volume: Volume, axis: int) -> float:
    """Area (cm^2) of one voxel's face across ``axis``."""
    others = [s for a, s in enumerate(volume.spacing_zyx) if a != axis]
    return others[0] * others[1] / 100.0


def in_plane_step(spacing_zyx: tuple[float, float, float]) -> int:
    """Every how many rows and columns the checks look (1 for pixels of :data:`MIN_PIXEL_MM` or more)."""
    return max(1, int(MIN_PIXEL_MM / min(spacing_zyx[1], spacing_zyx[2])))


def label_box(labels: np.ndarray) -> tuple[slice, slice, slice] | None:
    """The bounding box of all nonzero labels, or None for an empty map (one pass per axis)."""
    nz = labels.shape[0]
    flat = labels.reshape(nz, -1)
    z_hit = np.flatnonzero(flat.max(axis=1) if flat.size else np.zeros(nz, bool))
    if not z_hit.size:
        return None
    sub = labels[z_hit[0] : z_hit[-1] + 1]
    rows = np.flatnonzero(sub.max(axis=(0, 2)))
    cols = np.flatnonzero(sub.max(axis=(0, 1)))
    return (
        slice(int(z_hit[0]), int(z_hit[-1]) + 1),
        slice(int(rows[0]), int(rows[-1]) + 1),
        slice(int(cols[0]), int(cols[-1]) + 1),
    )


def measure_bones(ct: Volume, labels: np.ndarray, names: dict[int, str]) -> list[BoneMeasure]:
    """Measure every named label of ``labels`` (on ``ct``'s grid).

    Fine in-plane grids (pixels under :data:`MIN_PIXEL_MM`) are measured on every n-th row and
    column: a bone's volume, density, pieces and position do not need 0.3 mm pixels, and the cost
    grows with the number of bone voxels. Slices are never skipped (a missing slice must be seen).
    """
    step = in_plane_step(ct.spacing_zyx)
    if step > 1:
        sz, sy, sx = ct.spacing_zyx
        ct = Volume(ct.array[:, ::step, ::step], (sz, sy * step, sx * step), ct.origin_xyz, ct.direction)
        labels = labels[:, ::step, ::step]
    box = label_box(labels)
    if box is not None:  # room for the surroundings shell at the box's sides
        box = (
            box[0],
            *(
                slice(max(b.start - SHELL_PIXELS, 0), min(b.stop + SHELL_PIXELS, n))
                for b, n in zip(box[1:], labels.shape[1:])
            ),
        )  # type: ignore[assignment]
    return [_measure_bone(ct, labels, box, label, name) for label, name in sorted(names.items())]


def _own_box(mask: np.ndarray) -> tuple[slice, slice, slice] | None:
    """The bounding box of ``mask`` (widened in-plane by the shell margin, within the array)."""
    z = np.flatnonzero(mask.any(axis=(1, 2)))
    if not z.size:
        return None
    sub = mask[z[0] : z[-1] + 1]
    rows = np.flatnonzero(sub.any(axis=(0, 2)))
    cols = np.flatnonzero(sub.any(axis=(0, 1)))
    grow = SHELL_PIXELS
    return (
        slice(int(z[0]), int(z[-1]) + 1),
        slice(max(int(rows[0]) - grow, 0), min(int(rows[-1]) + 1 + grow, mask.shape[1])),
        slice(max(int(cols[0]) - grow, 0), min(int(cols[-1]) + 1 + grow, mask.shape[2])),
    )


def _empty(ct: Volume, label: int, name: str) -> BoneMeasure:
    return BoneMeasure(label, name, 0, 0.0, np.zeros(ct.shape[0]), (), float("nan"), 0.0, 0.0, ())


def _measure_bone(
    ct: Volume, labels: np.ndarray, box: tuple[slice, slice, slice] | None, label: int, name: str
) -> BoneMeasure:
    if box is None:
        return _empty(ct, label, name)
    mask = labels[box] == label
    own = _own_box(mask)
    if own is None:
        return _empty(ct, label, name)
    mask = mask[own]  # this bone's box only: labelling its pieces is the costly step
    box = tuple(slice(b.start + o.start, b.start + o.stop) for b, o in zip(box, own))  # type: ignore[assignment]
    coords = np.nonzero(mask)
    offset = [s.start for s in box]
    zyx = [c + o for c, o in zip(coords, offset)]
    hu = np.asarray(ct.array[box][coords], dtype=np.float32)
    voxel_ml = ct.voxel_volume_ml
    axis = body_axis(ct)
    area = np.bincount(zyx[axis], minlength=ct.shape[axis]).astype(np.float64) * cross_section_cm2(ct, axis)
    # the image's sides across the body axis (a bone runs on beyond the first and last slice of an axial CT)
    on_edge = np.zeros(hu.size, dtype=bool)
    for a in (a for a in range(3) if a != axis):
        on_edge |= (zyx[a] == 0) | (zyx[a] == ct.shape[a] - 1)
    components = _components(ct, mask, coords, zyx, hu, offset)
    return BoneMeasure(
        label=label,
        name=name,
        voxels=int(hu.size),
        volume_ml=float(hu.size * voxel_ml),
        slice_area_cm2=area,
        components=components,
        hu_p90=float(np.percentile(hu, 90)),
        dense_fraction=float(np.mean(hu > DENSE_HU)),
        air_fraction=float(np.mean(hu < AIR_HU)),
        edge_slices=tuple(int(z) for z in np.unique(zyx[0][on_edge])),
        body_axis=axis,
    )


def _components(
    ct: Volume,
    mask: np.ndarray,
    coords: tuple[np.ndarray, ...],
    zyx: list[np.ndarray],
    hu: np.ndarray,
    offset: list[int],
) -> tuple[ComponentMeasure, ...]:
    """Connected pieces (26-neighbourhood) with per-piece numbers from one bincount each."""
    cc, n = ndimage.label(mask, structure=_FULL)
    ids = cc[coords]
    local_boxes = ndimage.find_objects(cc)
    boxes = [tuple(slice(s.start + o, s.stop + o) for s, o in zip(found, offset)) for found in local_boxes]

    def per(weights: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(ids, weights=weights, minlength=n + 1)[1:]

    sizes = per()
    sums = [per(axis.astype(np.float64)) for axis in zyx]
    air = per((hu < AIR_HU).astype(np.float64))
    dense = per((hu > DENSE_HU).astype(np.float64))
    axis = body_axis(ct)
    max_area = _max_slice_counts(ids, zyx[axis], n) * cross_section_cm2(ct, axis)
    order = np.argsort(-sizes, kind="stable")
    surround = {
        int(k): _surrounding_air(ct, cc, int(k) + 1, local_boxes[k], offset) for k in order[:SURROUNDINGS_CHECKED]
    }
    del cc
    out = []
    for k in order:
        centroid_zyx = [float(s[k] / sizes[k]) for s in sums]
        box = boxes[k]
        out.append(
            ComponentMeasure(
                voxels=int(sizes[k]),
                volume_ml=float(sizes[k] * ct.voxel_volume_ml),
                centroid_lps=tuple(float(v) for v in ct.index_to_lps(centroid_zyx)),  # type: ignore[arg-type]
                box=box,  # type: ignore[arg-type]
                air_fraction=float(air[k] / sizes[k]),
                surrounding_air_fraction=surround.get(int(k), float("nan")),
                dense_fraction=float(dense[k] / sizes[k]),
                superior_range_mm=_superior_range(ct, box),  # type: ignore[arg-type]
                max_area_cm2=float(max_area[k]),
                slices=(int(box[0].start), int(box[0].stop) - 1),
            )
        )
    return tuple(out)


def _surrounding_air(ct: Volume, cc: np.ndarray, component: int, local: tuple[slice, ...], offset: list[int]) -> float:
    """Air share of a shell ``SHELL_PIXELS`` wide around one component, slice by slice."""
    pad = SHELL_PIXELS
    grown = tuple(slice(max(s.start - (pad if a else 0), 0), s.stop + (pad if a else 0)) for a, s in enumerate(local))
    step = max(1, (grown[0].stop - grown[0].start) // SHELL_SLICES)  # a sample of slices says enough
    grown = (slice(grown[0].start, grown[0].stop, step), grown[1], grown[2])
    piece = cc[grown] == component
    shell = ndimage.binary_dilation(piece, structure=_IN_PLANE, iterations=pad) & ~piece
    hu = ct.array[tuple(slice(s.start + o, s.stop + o, s.step) for s, o in zip(grown, offset))]
    hu = hu[: shell.shape[0], : shell.shape[1], : shell.shape[2]]
    shell = shell[: hu.shape[0], : hu.shape[1], : hu.shape[2]]
    total = int(np.count_nonzero(shell))
    return float(np.count_nonzero(hu[shell] < AIR_HU) / total) if total else 0.0


def _superior_range(ct: Volume, box: tuple[slice, slice, slice]) -> tuple[float, float]:
    """Lowest and highest S coordinate (mm) of a box's corner voxels (exact for axis-aligned scans)."""
    corners = np.array(
        [
            [z, y, x]
            for z in (box[0].start, box[0].stop - 1)
            for y in (box[1].start, box[1].stop - 1)
            for x in (box[2].start, box[2].stop - 1)
        ],
        dtype=np.float64,
    )
    s = ct.index_to_lps(corners)[:, 2]
    return float(s.min()), float(s.max())


def _max_slice_counts(ids: np.ndarray, z: np.ndarray, n: int) -> np.ndarray:
    """Per component, its largest number of voxels on one slice."""
    if n == 0:
        return np.zeros(0)
    z_min = int(z.min())
    span = int(z.max()) - z_min + 1
    counts = np.bincount((ids - 1).astype(np.int64) * span + (z - z_min), minlength=n * span)
    return counts.reshape(n, span).max(axis=1).astype(np.float64)
