"""The ``.kneeseg`` session file: a reviewed case saved so that it can be reopened later.

A session is the work done on one CT - the model's result, the user's edits of it, the
checks - without the CT itself (that stays where the hospital keeps it). It names the
CT by location, DICOM UIDs and grid, so reopening it on another CT is refused in one
sentence instead of laying one patient's bones over another's scan.

The file is one zip: ``session.json`` (sorted keys, no timestamps) and compressed
``.npy`` label arrays, with fixed entry dates and attributes. The same session therefore
always gives the same bytes (save, open, save again: identical), which makes a session a
reliable record and lets tests compare files. Written atomically, never into an input
folder. Qt-free: the window runs :func:`write_session` in a worker and shows its progress
(about a second for a 512 x 512 x 300 case), and a cancelled write leaves no file.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kneeseg_app.core.atomic import write_atomic
from kneeseg_app.core.errors import InputError
from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress
from kneeseg_app.core.protection import refuse_input_folders
from kneeseg_app.core.volume import Volume

SESSION_SUFFIX = ".kneeseg"
FORMAT_NAME = "kneeseg-session"
FORMAT_VERSION = 1
MANIFEST = "session.json"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
"""Every entry carries this date: a real one would make each save differ."""
_ARRAYS = ("model_labels", "edited_labels", "top_probability")
GEOMETRY_TOLERANCE_MM = 1e-3
CHUNK_BYTES = 4 << 20
"""Arrays are compressed this many bytes at a time, with progress and a chance to cancel in between."""


class SessionFileError(InputError):
    """A session file that cannot be read, or that belongs to another CT."""


@dataclass(frozen=True)
class CTIdentity:
    """What identifies the CT a session was made on: where it was, its UIDs and its grid."""

    location: str
    shape: tuple[int, int, int]
    spacing_zyx: tuple[float, float, float]
    origin_xyz: tuple[float, float, float]
    direction: tuple[float, ...]
    """The 3x3 direction matrix, row by row (LPS, as SimpleITK)."""
    series_instance_uid: str = ""
    study_instance_uid: str = ""
    frame_of_reference_uid: str = ""

    @classmethod
    def of(cls, volume: Volume, location: str | Path) -> CTIdentity:
        dicom = volume.dicom
        return cls(
            location=str(location),
            shape=tuple(int(n) for n in volume.shape),  # type: ignore[arg-type]
            spacing_zyx=tuple(float(s) for s in volume.spacing_zyx),  # type: ignore[arg-type]
            origin_xyz=tuple(float(o) for o in volume.origin_xyz),  # type: ignore[arg-type]
            direction=tuple(float(d) for d in np.asarray(volume.direction, dtype=float).ravel()),
            series_instance_uid=str(getattr(dicom, "series_instance_uid", "") or ""),
            study_instance_uid=str(getattr(dicom, "study_instance_uid", "") or ""),
            frame_of_reference_uid=frame_of_reference_uid(volume),
        )

    def mismatch(self, volume: Volume) -> str:
        """'' when ``volume`` is the CT of this session, else the one-sentence reason it is not."""
        other = CTIdentity.of(volume, self.location)
        for key, what in (
            ("series_instance_uid", "series"),
            ("study_instance_uid", "study"),
            ("frame_of_reference_uid", "frame of reference"),
        ):
            mine, theirs = getattr(self, key), getattr(other, key)
            if mine and mine != theirs:
                return (
                    f"This CT is not the session's: its {what} UID is {theirs or 'missing'}, the session's is {mine}."
                )
        if other.shape != self.shape:
            return f"This CT has {_grid(other.shape)} voxels, the session's CT had {_grid(self.shape)}."
        checks = (
            ("voxel spacing", self.spacing_zyx, other.spacing_zyx),
            ("origin", self.origin_xyz, other.origin_xyz),
            ("orientation", self.direction, other.direction),
        )
        for what, mine, theirs in checks:
            if not np.allclose(mine, theirs, atol=GEOMETRY_TOLERANCE_MM, rtol=0):
                return f"This CT's {what} differs from the session's CT, so the saved labels would not fit it."
        return ""


def frame_of_reference_uid(volume: Volume) -> str:
    """The CT's Frame of Reference UID: from its DicomFacts when they carry it, else from the header of
    its first file ('' for a CT not read from DICOM or whose files cannot be read any more)."""
    dicom = volume.dicom
    known = getattr(dicom, "frame_of_reference_uid", None)
    if known is not None or dicom is None or not dicom.files:
        return str(known or "")
    try:
        import pydicom

        header = pydicom.dcmread(dicom.files[0], stop_before_pixels=True, specific_tags=["FrameOfReferenceUID"])
    except Exception:  # noqa: BLE001 - a moved or unreadable file: the other UIDs and the grid still decide
        return ""
    return str(getattr(header, "FrameOfReferenceUID", "") or "")


@dataclass
class SessionFile:
    """Everything a session holds (the label arrays are on the CT's grid, (z, y, x))."""

    ct: CTIdentity
    model_name: str
    model_labels: np.ndarray
    edited_labels: np.ndarray | None = None
    """None when the model's result was not edited."""
    model_settings: dict[str, Any] = field(default_factory=dict)
    label_names: dict[int, str] = field(default_factory=dict)
    result_facts: dict[str, Any] = field(default_factory=dict)
    """seconds, volumes_ml, stage_seconds, removed_voxels of the model's result."""
    checks: dict[str, Any] = field(default_factory=dict)
    """The result checks' report as a JSON dict (what the user saw when saving)."""
    top_probability: np.ndarray | None = None

    @property
    def labels(self) -> np.ndarray:
        """The labels the user reviewed: the edited ones, else the model's."""
        return self.edited_labels if self.edited_labels is not None else self.model_labels


def write_session(
    target: str | Path,
    session: SessionFile,
    protected: Iterable[str | Path] = (),
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Write ``session`` to ``target`` (atomically; refused inside the input folders ``protected``).

    ``progress(stage, fraction)`` follows the compression; ``cancel`` stops it (Cancelled) and
    nothing is left at ``target``.
    """
    target = Path(target)
    refuse_input_folders(target, protected)
    _check_arrays(session)
    return write_atomic(target, lambda tmp: _write_zip(tmp, session, progress, cancel))


def session_bytes(session: SessionFile) -> bytes:
    """The file's bytes: the same session always gives the same bytes."""
    _check_arrays(session)
    buffer = io.BytesIO()
    _write_zip(buffer, session)
    return buffer.getvalue()


def _write_zip(
    destination: Path | io.BytesIO,
    session: SessionFile,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> None:
    """The zip: the manifest, then each array's bytes compressed chunk by chunk (the long part)."""
    progress("Saving the session: finding the labelled region", 0.0)
    stored, boxes = _cropped_arrays(session)
    manifest = {**_manifest(session), "boxes": boxes}
    entries = [(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8"))]
    entries += [(f"{name}.npy", _npy(array)) for name, array in stored.items()]
    total, done = sum(len(data) for _, data in entries), 0

    def stored_so_far(written: int) -> None:
        progress("Saving the session: compressing the labels", 0.05 + 0.9 * (done + written) / total)
        if cancel is not None:
            cancel.raise_if_cancelled()

    with zipfile.ZipFile(destination, "w") as archive:
        for name, data in entries:
            _add(archive, name, data, stored_so_far)
            done += len(data)
    progress("Saving the session", 1.0)


def read_session(path: str | Path) -> SessionFile:
    """Read a session file; SessionFileError (one sentence) for anything that is not one."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as archive:
            manifest = json.loads(archive.read(MANIFEST).decode("utf-8"))
            names = set(archive.namelist())
            arrays = {n: _load_npy(archive.read(f"{n}.npy")) for n in _ARRAYS if f"{n}.npy" in names}
    except FileNotFoundError as exc:
        raise SessionFileError(f"{path} does not exist (moved or deleted?).") from exc
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise SessionFileError(f"{path.name} is not a KneeSeg session file (or it is damaged).") from exc
    if manifest.get("format") != FORMAT_NAME or "model_labels" not in arrays:
        raise SessionFileError(f"{path.name} is not a KneeSeg session file.")
    if int(manifest.get("version", 0)) > FORMAT_VERSION:
        raise SessionFileError(f"{path.name} was saved by a newer KneeSeg; update KneeSeg to open it.")
    try:
        arrays = _expanded_arrays(arrays, manifest.get("boxes", {}), tuple(manifest["ct"]["shape_zyx"]))
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise SessionFileError(f"{path.name}: the saved label arrays do not fit the session's CT grid.") from exc
    session = _from_manifest(manifest, arrays)
    _check_arrays(session)
    return session


# ----- internals --------------------------------------------------------------------------
def _manifest(session: SessionFile) -> dict[str, Any]:
    ct = session.ct
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "ct": {
            "location": ct.location,
            "series_instance_uid": ct.series_instance_uid,
            "study_instance_uid": ct.study_instance_uid,
            "frame_of_reference_uid": ct.frame_of_reference_uid,
            "shape_zyx": list(ct.shape),
            "spacing_zyx": list(ct.spacing_zyx),
            "origin_xyz": list(ct.origin_xyz),
            "direction": list(ct.direction),
        },
        "model": {"name": session.model_name, "settings": _plain(session.model_settings)},
        "label_names": {str(k): v for k, v in sorted(session.label_names.items())},
        "result": _plain(session.result_facts),
        "edited": session.edited_labels is not None,
        "checks": _plain(session.checks),
    }


def _from_manifest(manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> SessionFile:
    try:
        ct = manifest["ct"]
        identity = CTIdentity(
            location=str(ct["location"]),
            shape=tuple(int(n) for n in ct["shape_zyx"]),  # type: ignore[arg-type]
            spacing_zyx=tuple(float(s) for s in ct["spacing_zyx"]),  # type: ignore[arg-type]
            origin_xyz=tuple(float(o) for o in ct["origin_xyz"]),  # type: ignore[arg-type]
            direction=tuple(float(d) for d in ct["direction"]),
            series_instance_uid=str(ct.get("series_instance_uid", "")),
            study_instance_uid=str(ct.get("study_instance_uid", "")),
            frame_of_reference_uid=str(ct.get("frame_of_reference_uid", "")),
        )
        model = manifest.get("model", {})
        return SessionFile(
            ct=identity,
            model_name=str(model.get("name", "")),
            model_settings=dict(model.get("settings", {})),
            model_labels=arrays["model_labels"],
            edited_labels=arrays.get("edited_labels"),
            label_names={int(k): str(v) for k, v in manifest.get("label_names", {}).items()},
            result_facts=dict(manifest.get("result", {})),
            checks=dict(manifest.get("checks", {})),
            top_probability=arrays.get("top_probability"),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise SessionFileError("The session file's description is incomplete or damaged.") from exc


def _cropped_arrays(session: SessionFile) -> tuple[dict[str, np.ndarray], dict[str, list[list[int]]]]:
    """Each array cut to the box where it differs from what the reader fills in (0 labels, 255
    probability, the model's labels under the edits): a knee's bones fill a small part of the
    grid, so a 512 x 512 x 600 session compresses in a fraction of the time."""
    stored: dict[str, np.ndarray] = {}
    boxes: dict[str, list[list[int]]] = {}
    model = session.model_labels
    differing = {
        "model_labels": model != 0,
        "top_probability": None if session.top_probability is None else session.top_probability != 255,
        "edited_labels": None if session.edited_labels is None else session.edited_labels != model,
    }
    for name, mask in differing.items():
        if mask is None:
            continue
        box = _box(mask)
        boxes[name] = [[start, stop] for start, stop in box]
        stored[name] = np.ascontiguousarray(getattr(session, name)[tuple(slice(a, b) for a, b in box)])
    return stored, boxes


def _expanded_arrays(
    stored: dict[str, np.ndarray], boxes: dict[str, Any], shape: tuple[int, ...]
) -> dict[str, np.ndarray]:
    """The full-grid arrays from their saved boxes (see :func:`_cropped_arrays`)."""
    shape = tuple(int(n) for n in shape)
    fills = {"model_labels": 0, "top_probability": 255}
    full: dict[str, np.ndarray] = {}
    for name in ("model_labels", "top_probability", "edited_labels"):
        if name not in stored:
            continue
        part = stored[name]
        window = tuple(slice(int(a), int(b)) for a, b in boxes[name])
        base = full["model_labels"].copy() if name == "edited_labels" else np.full(shape, fills[name], part.dtype)
        if base[window].shape != part.shape:
            raise ValueError(f"{name} does not fit its box")
        base[window] = part
        full[name] = base
    return full


def _box(mask: np.ndarray) -> list[tuple[int, int]]:
    """The smallest (start, stop) per axis holding every True of ``mask`` (z, y, x); (0, 0) each when none.

    Each axis is searched inside the range found for the axes before it: one full pass, not three."""
    z = np.flatnonzero(mask.any(axis=(1, 2)))
    if z.size == 0:
        return [(0, 0)] * 3
    part = mask[z[0] : z[-1] + 1]
    y = np.flatnonzero(part.any(axis=(0, 2)))
    x = np.flatnonzero(part[:, y[0] : y[-1] + 1].any(axis=(0, 1)))
    return [(int(v[0]), int(v[-1]) + 1) for v in (z, y, x)]


def _check_arrays(session: SessionFile) -> None:
    for name in _ARRAYS:
        array = getattr(session, name)
        if array is not None and tuple(array.shape) != tuple(session.ct.shape):
            raise SessionFileError(
                f"The session's {name.replace('_', ' ')} have {_grid(array.shape)} voxels, "
                f"its CT {_grid(session.ct.shape)}."
            )


def _add(archive: zipfile.ZipFile, name: str, data: bytes, stored: Callable[[int], None] = lambda n: None) -> None:
    """Store ``data`` deflated, :data:`CHUNK_BYTES` at a time, telling ``stored`` the bytes stored so far.

    The same bytes as ``writestr`` at level 6 (zlib's default, used when the entry names none):
    deflate's output does not depend on how its input is cut.
    """
    info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    info.create_system = 3  # the same on every platform
    info.file_size = len(data)  # as writestr: a large entry gets its zip64 header up front
    view = memoryview(data)
    with archive.open(info, "w") as entry:
        for start in range(0, len(data), CHUNK_BYTES):
            entry.write(view[start : start + CHUNK_BYTES])
            stored(min(start + CHUNK_BYTES, len(data)))


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _load_npy(data: bytes) -> np.ndarray:
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


def _plain(value: Any) -> Any:
    """JSON-safe and canonical: numpy scalars as numbers, tuples as lists, keys as text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _grid(shape: Iterable[int]) -> str:
    return " x ".join(str(int(n)) for n in shape)
