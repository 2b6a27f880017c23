"""Remembered settings: where they live and what the file may hold."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

from kneeseg_app.ui.state.settings import AppSettings, default_qsettings


def test_the_settings_file_moves_with_kneeseg_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KNEESEG_HOME", str(tmp_path / "portable"))
    settings = AppSettings(default_qsettings())
    settings.last_folder = "/data/ct"
    assert Path(settings.store.fileName()) == tmp_path / "portable" / "config" / "settings.ini"
    assert (tmp_path / "portable" / "config" / "settings.ini").is_file()


def test_window_geometry_is_stored_as_qt_bytes_not_as_a_pickle(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    settings = AppSettings(QSettings(str(path), QSettings.Format.IniFormat))
    settings.geometry = b"\x01\xd9\xd0\xcb\x00\x03geometry"
    text = path.read_text(encoding="latin-1")
    assert "@ByteArray(" in text
    assert "@Variant(" not in text
    reread = AppSettings(QSettings(str(path), QSettings.Format.IniFormat))
    assert reread.geometry == b"\x01\xd9\xd0\xcb\x00\x03geometry"


def test_a_pickled_value_left_by_an_old_version_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "settings.ini"
    path.write_text(
        '[window]\ngeometry="@Variant(\\0\\0\\0\\x7f\\0\\0\\0\\x18PySide::PyObjectWrapper)"\n', encoding="latin-1"
    )
    settings = AppSettings(QSettings(str(path), QSettings.Format.IniFormat))
    assert settings.geometry == b""
