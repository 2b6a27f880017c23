"""Remembered choices (QSettings, organisation "KneeSeg"): typed accessors only.

``AppSettings()`` uses the platform's per-user INI file; tests pass their own
``QSettings(path, IniFormat)`` so they never touch the developer's settings.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings

ORGANISATION = "KneeSeg"
APPLICATION = "KneeSeg"
MAX_RECENT = 8


def default_qsettings() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANISATION, APPLICATION)


class AppSettings:
    """Last folder, recent cases, model, window preset, threads, TTA, window layout."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else default_qsettings()

    def _get(self, key: str, default, kind):
        value = self.store.value(key, default)
        try:
            if kind is bool:
                return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
            return kind(value)
        except (TypeError, ValueError):
            return default

    def _set(self, key: str, value) -> None:
        self.store.setValue(key, value)
        self.store.sync()

    @property
    def last_folder(self) -> str:
        return self._get("files/last_folder", "", str)

    @last_folder.setter
    def last_folder(self, value: str) -> None:
        self._set("files/last_folder", str(value))

    @property
    def recent(self) -> list[str]:
        value = self.store.value("files/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add_recent(self, path: str) -> None:
        items = [path] + [p for p in self.recent if p != path]
        self._set("files/recent", items[:MAX_RECENT])

    def clear_recent(self) -> None:
        self._set("files/recent", [])

    @property
    def model(self) -> str:
        return self._get("segment/model", "", str)

    @model.setter
    def model(self, value: str) -> None:
        self._set("segment/model", str(value))

    @property
    def threads(self) -> int:
        return self._get("segment/threads", 0, int)

    @threads.setter
    def threads(self, value: int) -> None:
        self._set("segment/threads", int(value))

    @property
    def tta(self) -> bool:
        return self._get("segment/tta", False, bool)

    @tta.setter
    def tta(self, value: bool) -> None:
        self._set("segment/tta", bool(value))

    @property
    def window_preset(self) -> str:
        return self._get("view/window_preset", "", str)

    @window_preset.setter
    def window_preset(self, value: str) -> None:
        self._set("view/window_preset", str(value))

    @property
    def geometry(self) -> bytes:
        value = self.store.value("window/geometry", b"")
        return bytes(value) if value else b""

    @geometry.setter
    def geometry(self, value: bytes) -> None:
        self._set("window/geometry", value)
