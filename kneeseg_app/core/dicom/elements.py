"""Low-level facts about a DICOM file's bytes that pydicom's header parse does not give.

* The Pixel Data element's declared length and how many of its bytes the file really
  holds, read from the element header right where ``stop_before_pixels`` stopped:
  a decoder handed fewer bytes than rows x columns x bits x samples x frames returns
  uninitialised memory as if it were an image (fo-dicom GH1376).
* Whether a file without pixel data ends cleanly after its last element (a header-only
  export) or in the middle of one (a copy cut short).
* pydicom's own warnings, routed to KneeSeg's log (debug level) so they never reach a
  user's terminal: every problem they hint at gets one clear sentence of ours instead.
"""

from __future__ import annotations

import io
import logging
import struct
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import pydicom

BIG_ENDIAN = "1.2.840.10008.1.2.2"
IMPLICIT_LITTLE = "1.2.840.10008.1.2"
_LONG_LENGTH_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
_UNDEFINED = 0xFFFFFFFF

log = logging.getLogger("kneeseg.dicom")


@dataclass(frozen=True)
class PixelElement:
    """The Pixel Data element as the file declares it."""

    declared: int | None
    """Value length in bytes; None when undefined (encapsulated, compressed frames)."""
    available: int
    """Bytes of the value the file really holds."""


def pixel_element(fp: BinaryIO, size: int, transfer_syntax: str) -> PixelElement | None:
    """Read the element header at ``fp``'s position (the Pixel Data tag); None if it is not one."""
    start = fp.tell()
    head = fp.read(12)
    if len(head) < 8:
        return None
    endian = ">" if transfer_syntax == BIG_ENDIAN else "<"
    if transfer_syntax == IMPLICIT_LITTLE:
        (length,) = struct.unpack("<I", head[4:8])
        value_start = start + 8
    elif head[4:6] in _LONG_LENGTH_VRS:
        if len(head) < 12:
            return None
        (length,) = struct.unpack(f"{endian}I", head[8:12])
        value_start = start + 12
    else:
        (length,) = struct.unpack(f"{endian}H", head[6:8])
        value_start = start + 8
    if length == _UNDEFINED:
        return PixelElement(None, max(0, size - value_start))
    return PixelElement(length, max(0, min(length, size - value_start)))


def ends_cleanly(path: str) -> bool:
    """True when the dataset ends exactly after its last complete element (nothing was cut off).

    A header-only export ends so; a file cut short ends inside an element (its declared
    length runs past the end of the file) or inside a sequence (which pydicom then drops).
    """
    with open(path, "rb") as fp:
        data = fp.read()
    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, force=True)
    except Exception:  # noqa: BLE001 - a file pydicom cannot parse at all did not end cleanly
        return False
    last: tuple[int, int] | None = None
    for tag in list(ds.keys()):
        raw = ds.get_item(tag)
        tell = getattr(raw, "value_tell", None)
        length = getattr(raw, "length", None)
        if tell is None or length is None:
            continue
        if length != _UNDEFINED and tell + length > len(data):
            return False
        if last is None or tell > last[0]:
            last = (tell, length)
    return last is not None and (last[1] == _UNDEFINED or last[0] + last[1] == len(data))


class _ToDebugLog(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        log.debug("pydicom: %s", record.getMessage())


def route_pydicom_messages() -> None:
    """Send pydicom's log lines and Python warnings to KneeSeg's debug log, never to stderr (idempotent)."""
    pydicom_log = logging.getLogger("pydicom")
    if not any(isinstance(h, _ToDebugLog) for h in pydicom_log.handlers):
        pydicom_log.addHandler(_ToDebugLog())
    pydicom_log.propagate = False
    warnings.filterwarnings("ignore", module=r"pydicom(\..*)?$")
