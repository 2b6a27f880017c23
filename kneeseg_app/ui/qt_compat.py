"""Guards against known Qt-binding defects, applied once when the window starts.

PySide6 6.12.0: ``SignalInstance.emit()`` returns ``True`` without owning a reference,
so every signal emitted from Python (ours and pyqtgraph's, e.g. on each mouse move)
removes one reference to ``True``. On CPython < 3.12 (where ``True`` is not immortal)
the count reaches zero after a few hundred emits and the interpreter aborts with
"bool_dealloc: deallocating True or False". 6.11.x does not have the defect.

``protect_against_emit_refcount_leak`` probes for the leak and, only if it is there,
gives ``True`` and ``False`` a huge reference count, which is what CPython 3.12 does
for them anyway (immortal objects). Nothing else changes.
"""

from __future__ import annotations

import ctypes
import logging
import sys

log = logging.getLogger(__name__)

_PROBES = 8
_IMMORTAL_REFS = 1 << 40


def emit_leaks_true() -> bool:
    """True when emitting a Python-defined signal drops a reference to ``True``."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBES):
        probe.ping.emit()
    leaked = sys.getrefcount(True) < before
    if leaked:  # give the probe's own losses back
        _add_refs(True, _PROBES)
    return leaked


def _add_refs(obj: object, count: int) -> None:
    ctypes.c_ssize_t.from_address(id(obj)).value += count


def protect_against_emit_refcount_leak() -> bool:
    """Make ``True``/``False`` effectively immortal if this PySide6 leaks them; returns whether it did."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False  # bools are immortal there
    if getattr(protect_against_emit_refcount_leak, "_done", False):
        return True
    if not emit_leaks_true():
        return False
    import PySide6

    log.warning("PySide6 %s leaks a reference per signal emit; applying the workaround.", PySide6.__version__)
    _add_refs(True, _IMMORTAL_REFS)
    _add_refs(False, _IMMORTAL_REFS)
    protect_against_emit_refcount_leak._done = True  # type: ignore[attr-defined]
    return True
