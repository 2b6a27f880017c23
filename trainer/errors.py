"""Errors of the trainer a person can cause, each with a one-sentence message."""

from __future__ import annotations

from kneeseg_app.core.errors import InputError, KneeSegError, ModelError


class DatasetError(InputError):
    """A case table or dataset cannot be used as given (columns, duplicates, split, files)."""


class TrainingError(KneeSegError):
    """An nnU-Net or U-Net training step failed; the message names its log file."""


class ExportCheckError(ModelError):
    """An exported model does not reproduce the trained network; no package was written."""


class QuantizationError(ModelError):
    """int8 networks cannot be made or do not label like float32; the package was left as it was."""
