"""The model's result and the user's edits of it: what "the result" means once editing starts.

Everything that reads the session's result - views, volumes, metrics, 3D surfaces, every
export - gets :meth:`EditedResult.current`: the model's SegmentationResult with the
edited labels and their volumes. It is a snapshot (a copy made once per edit, only when
read), so a background export or metrics run never sees a stroke half-way; unedited, it
is the model's result itself (no copy). The model's own labels stay in ``editor.model``.
Qt-free.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from kneeseg_app.core.editing import LabelEditor
from kneeseg_app.core.volume import Volume


class EditedResult:
    """A model result, its LabelEditor, and the edited result built from them on demand."""

    def __init__(self, model_result: Any, ct: Volume | None = None) -> None:
        labels: Volume = model_result.labels
        ct_array = ct.array if ct is not None and ct.shape == labels.shape else None
        self.editor = LabelEditor(labels.array, labels.spacing_zyx, ct=ct_array)
        # keep the editor's read-only copy only: the engine's array can be freed
        self.model_result = replace(model_result, labels=labels.with_array(self.editor.model))
        self.label_names: dict[int, str] = {}
        """Label value -> name (from the model package), to name the edited volumes."""
        self._snapshot: tuple[int, Any] | None = None
        self._live: Volume | None = None

    @property
    def edited(self) -> bool:
        return self.editor.changed_since_model

    @property
    def live_labels(self) -> Volume:
        """The edited labels as they change (read-only view, no copy): for drawing only."""
        if self._live is None:
            self._live = self.model_result.labels.with_array(self.editor.labels)
        return self._live

    def current(self) -> Any:
        """The result to use: the model's, or a snapshot of it with the edits and their volumes."""
        if not self.editor.changed_since_model:
            return self.model_result
        version = self.editor.version
        if self._snapshot is None or self._snapshot[0] != version:
            model = self.model_result
            labels = model.labels.with_array(self.editor.labels.copy(), source=f"{model.labels.source} (edited)")
            volumes = self.editor.volumes_ml(self.label_names) if self.label_names else dict(model.volumes_ml)
            self._snapshot = (version, replace(model, labels=labels, volumes_ml=volumes))
        return self._snapshot[1]
