"""KneeSeg trainer: build datasets, train nnU-Net v2 / a ResNet50V2 U-Net, export model packages.

Run it as ``kneeseg-train`` (see :mod:`trainer.cli`). Importing this package loads
neither torch nor nnU-Net, so ``kneeseg-train --help`` is instant; every module that
needs them imports them itself.
"""

from __future__ import annotations

__version__ = "0.1.0"
