"""Remembered choices (QSettings, organisation "KneeSeg"): typed accessors only.

``AppSettings()`` uses ``settings.ini`` in the per-user config folder of
:func:`kneeseg_app.core.paths.user_config_dir` (so ``KNEESEG_HOME`` moves it with the
models and the cache); tests pass their own ``QSettings(path, IniFormat)``. Only plain
values and Qt's own byte arrays are stored: nothing read back from the file is unpickled.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

from kneeseg_app.core.paths import user_config_dir

MAX_RECENT = 8


SETTINGS_FILE = "settings.ini"


def default_qsettings() -> QSettings:
    """The user's settings file, in the same per-user folder as everything else KneeSeg keeps."""
    return QSettings(str(user_config_dir() / SETTINGS_FILE), QSettings.Format.IniFormat)


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
        """Qt's saveGeometry() bytes; anything else in the file (an old pickled value) is ignored."""
        value = self.store.value("window/geometry", QByteArray())
        return bytes(value.data()) if isinstance(value, QByteArray) else b""

    @geometry.setter
    def geometry(self, value: bytes) -> None:
        self._set("window/geometry", QByteArray(bytes(value)))

    @property
    def hide_identifiers(self) -> bool:
        """View > Hide identifiers: patient name, ID, dates and accession blanked in the window."""
        return self._get("privacy/hide_identifiers", False, bool)

    @hide_identifiers.setter
    def hide_identifiers(self, value: bool) -> None:
        self._set("privacy/hide_identifiers", bool(value))

    @property
    def anonymous_file_names(self) -> bool:
        """Exported files named by side and bone only, without the patient ID (the CLI's --anonymous-names)."""
        return self._get("privacy/anonymous_file_names", False, bool)

    @anonymous_file_names.setter
    def anonymous_file_names(self, value: bool) -> None:
        self._set("privacy/anonymous_file_names", bool(value))
