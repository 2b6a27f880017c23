"""What a segmentation run returns: the label map and what it took to make it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kneeseg_app.core.volume import Volume


@dataclass
class SegmentationResult:
    """A label map on the source grid, with what it took to make it."""

    labels: Volume
    seconds: float
    volumes_ml: dict[str, float]
    stage_seconds: dict[str, float]
    model_name: str
    settings: dict[str, Any] = field(default_factory=dict)
    removed_voxels: dict[str, int] = field(default_factory=dict)
    """Voxels dropped by post-processing, per bone (a large number flags a doubtful result)."""
    no_knee: str = ""
    """Why the anatomy rule found no knee joint and discarded every label ('' otherwise)."""
    top_probability: np.ndarray | None = None
    """Per voxel (source grid, uint8): the chosen class's softmax probability x 255; 255 where the
    network did not run (air far from bone). Read by the result checks' confidence check."""
    label_names: dict[int, str] = field(default_factory=dict)
    """Foreground label -> bone name of the model that made this result: overlays, metrics and
    exports name the bones by it, not by whichever model is selected later."""


@dataclass(frozen=True)
class PostprocessOutcome:
    """Voxels the post-processing dropped per label, and why it found no knee ('' when it did)."""

    removed: dict[int, int]
    no_knee: str = ""
    firm: bool = False
    """``no_knee`` holds on a scan sampled every 10 mm too (``KneeJoint.firm``)."""
