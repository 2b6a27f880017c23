"""Helpers for the window tests (imported by conftest and the test modules)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from kneeseg_app.core.volume import Volume

FEMUR_HU = 600.0  # the threshold test network calls 300..900 HU femur and > 900 HU tibia
TIBIA_HU = 1300.0


@dataclass
class RecordingDialogs:
    """Stands in for DialogService: records messages, answers from attributes."""

    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (kind, title, text)
    folder: str | None = None
    open_file: str | None = None
    save_file: str | None = None
    confirm_answer: bool = True
    series_choice: Callable[[list[Any]], Any] | None = None
    series_offered: list[list[Any]] = field(default_factory=list)
    questions: list[str] = field(default_factory=list)
    save_answer: str = "discard"
    """The answer to "save before leaving the case?": 'save', 'discard' or 'cancel'."""

    def error(self, title: str, text: str, details: str = "") -> None:
        self.messages.append(("error", title, text))

    def warning(self, title: str, text: str, details: str = "") -> None:
        self.messages.append(("warning", title, text))

    def info(self, title: str, text: str, details: str = "") -> None:
        self.messages.append(("info", title, text))

    def exception(self, title: str, exc: BaseException) -> None:
        from kneeseg_app.core.errors import describe_exception

        self.messages.append(("error", title, describe_exception(exc)[0]))

    def confirm(self, title: str, text: str) -> bool:
        self.questions.append(text)
        return self.confirm_answer

    def ask_save(self, title: str, text: str):
        from kneeseg_app.ui.state.case_guard import Answer

        self.questions.append(text)
        return Answer(self.save_answer)

    def choose_folder(self, title: str, start: str = "") -> str | None:
        return self.folder

    def choose_open_file(self, title: str, start: str = "", filters: str = "") -> str | None:
        return self.open_file

    def choose_save_file(self, title: str, start: str = "", filters: str = "") -> str | None:
        return self.save_file

    def choose_series(self, series, others=(), preselect: int = 0):
        self.series_offered.append(list(series))
        return self.series_choice(list(series)) if self.series_choice else series[preselect]

    def of_kind(self, kind: str) -> list[tuple[str, str, str]]:
        return [m for m in self.messages if m[0] == kind]


def knee_hu(points_lps: np.ndarray) -> np.ndarray:
    """A toy knee: femur (upper sphere + shaft) and tibia (lower block) in soft tissue."""
    x, y, z = points_lps[..., 0], points_lps[..., 1], points_lps[..., 2]
    hu = np.where(x**2 + y**2 < 22**2, 40.0, -1000.0)
    femur = ((x + 3) ** 2 + y**2 + (z - 52) ** 2 < 12**2) | (((x + 3) ** 2 + y**2 < 7**2) & (z > 52))
    tibia = (np.abs(x - 2) < 11) & (np.abs(y) < 9) & (z > 14) & (z < 36)
    hu = np.where(femur, FEMUR_HU, hu)
    return np.where(tibia, TIBIA_HU, hu)


def knee_series(**changes: Any):
    """The toy knee as a real DICOM CT series (``dicom_factory.CTSeries``): 36 slices of 64 x 64 pixels,
    0.8 x 0.8 x 2 mm, described "Knee 2.0 Bone"; ``changes`` replace any of these (header, origin, ...)."""
    from dicom_factory import CTSeries

    grid: dict[str, Any] = {
        "n_slices": 36,
        "rows": 64,
        "columns": 64,
        "pixel_spacing": (0.8, 0.8),
        "origin": (-25.6, -25.6, 0.0),
        "slice_step": 2.0,
        "thickness": 2.0,
        "intensity": knee_hu,
        "description": "Knee 2.0 Bone",
    }
    return CTSeries(**{**grid, **changes})


def wait_loaded(qtbot, window, timeout: int = 20000) -> None:
    qtbot.waitUntil(lambda: window.session.volume is not None and not window.loader.busy, timeout=timeout)


def wait_idle(qtbot, window, timeout: int = 20000) -> None:
    qtbot.waitUntil(
        lambda: not window.loader.busy and not window.segmenter.running and not window.comparison.busy, timeout=timeout
    )


# ----- batch cases (the batch logic and the batch window share them) -----


def knee_volume(label_shift_mm: float = 0.0) -> tuple[Volume, Volume]:
    """The toy knee CT on a 0.8 x 0.8 x 2 mm grid, and its labels (moved along x if asked)."""
    shape = (36, 64, 64)
    ct = Volume(np.zeros(shape, np.int16), (2.0, 0.8, 0.8), (-25.6, -25.6, 0.0))
    points = ct.index_to_lps(np.stack(np.indices(shape), axis=-1).astype(float))
    hu = knee_hu(points)
    points[..., 0] -= label_shift_mm
    truth = knee_hu(points)
    labels = np.where(truth == FEMUR_HU, 1, 0) + np.where(truth == TIBIA_HU, 2, 0)
    return ct.with_array(hu.astype(np.int16)), ct.with_array(labels.astype(np.uint8))


def write_case(
    folder: Path, image_name: str = "image.nii.gz", labels_name: str = "labels.nii.gz", shift_mm: float = 0.0
) -> None:
    """A case folder; ``shift_mm`` moves the reference labels against the CT (a worse case)."""
    ct, labels = knee_volume(shift_mm)
    folder.mkdir(parents=True, exist_ok=True)
    sitk.WriteImage(ct.to_sitk(), str(folder / image_name))
    sitk.WriteImage(labels.to_sitk(), str(folder / labels_name))
