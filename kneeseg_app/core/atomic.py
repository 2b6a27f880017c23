"""Atomic file writes: a temporary file beside the target, then a rename.

A crash or a full disk never leaves a half-written result where a user expects
a complete one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from kneeseg_app.core.errors import OutputError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    The temporary name keeps the target's full suffix (``.nii.gz``) so writers that
    choose the format from the extension work.
    """
    target = Path(target)
    if target.exists() and not overwrite:
        raise OutputError(f"{target} already exists; choose another name or allow overwriting.")
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create the folder {parent}: {exc.strerror or exc}.") from exc
    suffix = "".join(target.suffixes) or ".tmp"
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part" + suffix, dir=parent)
    except OSError as exc:
        raise OutputError(
            f"Cannot write {target}: the folder {parent} is not writable ({exc.strerror or exc})."
        ) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        _give_default_permissions(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        raise OutputError(f"Cannot write {target}: {exc.strerror or exc}.") from exc
    finally:
        if tmp.exists():
            with contextlib.suppress(OSError):
                tmp.unlink()


def _process_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _process_umask()
"""Read once at import (reading it means setting it, which is not thread-safe)."""


def _give_default_permissions(path: Path) -> None:
    """mkstemp creates 0600 files; a result must get the permissions any new file would
    (0644 under the usual umask), or a model package or label map installed for
    several users is unreadable to all but its writer."""
    if os.name == "posix" and path.exists():
        os.chmod(path, 0o666 & ~_UMASK)


def write_atomic(target: str | os.PathLike[str], write: Callable[[Path], None], overwrite: bool = True) -> Path:
    """Run ``write(tmp_path)`` and move the result onto ``target`` atomically."""
    with atomic_path(target, overwrite=overwrite) as tmp:
        write(tmp)
    return Path(target)


def write_bytes_atomic(target: str | os.PathLike[str], data: bytes, overwrite: bool = True) -> Path:
    """Atomically write ``data`` to ``target``."""
    return write_atomic(target, lambda p: p.write_bytes(data), overwrite=overwrite)


def replace_folder(finished: str | os.PathLike[str], target: str | os.PathLike[str]) -> Path:
    """Move a completely written folder onto ``target`` by renames only.

    An existing ``target`` is first renamed aside and deleted only after the new folder is
    in place, so at every moment ``target`` is either the old folder or the new one, never
    a mixture (a dataset, a model package). Both must be on the same file system.
    """
    finished, target = Path(finished), Path(target)
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(target, old)
    os.replace(finished, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return target


def ensure_not_inside(
    target: str | os.PathLike[str], protected: list[str | os.PathLike[str]] | tuple[str | os.PathLike[str], ...]
) -> None:
    """Refuse to write ``target`` inside any protected folder (the user's input data).

    A protected entry that is a file protects its parent folder (a DICOM file's series folder).
    """
    resolved = Path(target).resolve()
    for item in protected:
        folder = Path(item).resolve()
        if folder.is_file():
            folder = folder.parent
        if resolved == folder or folder in resolved.parents:
            raise OutputError(
                f"Refusing to write {resolved.name} into the input folder {folder}; choose another location."
            )


@dataclass(frozen=True)
class PlannedOutput:
    """One result a command will write, checked before any work starts."""

    path: Path
    """As the user gave it (messages name it so)."""
    what: str
    """For messages: 'the label map', 'the meshes', ..."""
    files: tuple[str, ...] | None = None
    """For a folder output: the names that will be written in it; None for a file output."""


def check_outputs(
    outputs: Sequence[PlannedOutput],
    protected: Sequence[str | os.PathLike[str]],
    overwrite: bool = False,
) -> None:
    """Refuse, naming the user's path, any output that could not be written; creates nothing.

    Checked for each output: not inside the input, not clashing with another output, not
    an existing file unless ``overwrite`` (never an existing folder where a file goes),
    and a writable folder to land in: the nearest existing ancestor must be a folder the
    process may write into (``os.access``: a read-only mount or an immutable folder fails
    for root too, a folder that is only chmod'ed read-only does not stop root).
    """
    seen: dict[Path, PlannedOutput] = {}
    for out in outputs:
        if out.files is not None and out.path.exists() and not out.path.is_dir():
            raise OutputError(f"Cannot write {out.what} into {out.path}: it is a file, not a folder.")
        targets = [out.path / name for name in out.files] if out.files is not None else [out.path]
        for target in targets:
            resolved = target.resolve()
            if resolved in seen:
                other = seen[resolved]
                raise OutputError(
                    f"{out.what.capitalize()} {out.path} and {other.what} {other.path} would be the same file."
                )
            seen[resolved] = out
            _require_outside(target, out, protected)
            _require_replaceable(target, out, overwrite)
        _require_writable(out.path if out.files is not None else out.path.parent, out)


def _require_outside(target: Path, out: PlannedOutput, protected: Sequence[str | os.PathLike[str]]) -> None:
    try:
        ensure_not_inside(target, protected)
    except OutputError:
        raise OutputError(
            f"Refusing to write {out.what} {out.path} inside the input; choose another location."
        ) from None


def _require_replaceable(target: Path, out: PlannedOutput, overwrite: bool) -> None:
    if target.is_dir():
        raise OutputError(f"Cannot write {out.what} {target}: a folder of that name exists.")
    if target.exists() and not overwrite:
        raise OutputError(f"{target} already exists; choose another name or add --overwrite.")


def _require_writable(folder: Path, out: PlannedOutput) -> None:
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"Cannot write {out.what} {out.path}: {existing} is a file, not a folder.")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"Cannot write {out.what} {out.path}: the folder {existing} is read-only.")
