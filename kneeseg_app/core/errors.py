"""Typed errors that the CLI and the window show to a person in one line.

Every error raised on bad input derives from :class:`KneeSegError`; its ``str`` is
a complete sentence meant for a surgeon, never a traceback.
"""

from __future__ import annotations

import traceback


class KneeSegError(Exception):
    """Base of all errors a user may see; ``str(err)`` is the message to show."""


class InputError(KneeSegError):
    """The input data (folder, file, series) cannot be used as given."""


class EmptyFolderError(InputError):
    """The folder does not exist, is empty or holds no DICOM files."""


class NoImageSeriesError(InputError):
    """DICOM files were found but none forms an image volume (only SEG, SR, scouts...)."""


class NotCTError(InputError):
    """The chosen series is not CT (MR, US, ...)."""


class SingleSliceError(InputError):
    """A series with one slice is not a volume."""


class DuplicateSlicesError(InputError):
    """Several slices share one position and cannot be told apart."""


class MixedImageSizesError(InputError):
    """Slices of one series have different sizes or orientations."""


class NotKneeCTError(InputError):
    """The input is not a knee CT: another body part, MR values, a label map, values not in HU."""


class UnreadableFileError(InputError):
    """A file is truncated, corrupt or in a format that cannot be decoded."""


class GeometryError(InputError):
    """The slice geometry (tilt, gaps) cannot be turned into a correct regular grid."""


class SliceGapError(GeometryError):
    """Slices are missing inside a series (never sent, undecodable or cut short) and filling the gap was not asked for.

    ``gaps`` describes each gap (the reader's own records) so a window can ask whether to fill them.
    """

    def __init__(self, message: str, gaps: tuple[object, ...] = ()) -> None:
        super().__init__(message)
        self.gaps = gaps


class LabelMapError(InputError):
    """A label map does not fit its image (grid, values)."""


class ReferenceLabelsError(LabelMapError):
    """A reference label map's labels do not match the model's (and no mapping says how they do)."""


class ModelError(KneeSegError):
    """A model package is missing, broken or incompatible."""


class OutputError(KneeSegError):
    """A result cannot be written where asked (input folder, existing file, no space)."""


class EditError(KneeSegError):
    """A label edit cannot be done as asked (nothing to interpolate, click outside a bone...)."""


class Cancelled(KneeSegError):
    """The user cancelled a long operation."""

    def __init__(self, message: str = "Cancelled by the user.") -> None:
        super().__init__(message)


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """(one sentence for a person, technical details) for any exception.

    A KneeSegError's message is already written for the user; anything else is a bug or
    an environment problem: one plain sentence, the traceback only in the details.
    """
    if isinstance(exc, KneeSegError):
        return str(exc), ""
    if isinstance(exc, MemoryError):
        return "The computer ran out of memory; close other programs or use a smaller volume.", _trace(exc)
    if isinstance(exc, OSError):
        reason = exc.strerror or str(exc)
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return f"A file could not be read or written{where}: {reason}.", _trace(exc)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return f"Something unexpected went wrong ({type(exc).__name__}: {text[:200]}).", _trace(exc)


def _trace(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
