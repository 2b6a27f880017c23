"""Model packages: a folder with ``manifest.json`` and ONNX networks (docs/model-package.md).

The manifest is read strictly (:mod:`kneeseg_app.core.model.manifest`) before any network
is touched, so a broken or foreign package is refused with one sentence saying why.
Checksums are verified and ONNX files opened lazily (:meth:`ModelPackage.open_networks`),
because listing models must stay instant. Nothing here ever unpickles.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kneeseg_app.core.errors import ModelError
from kneeseg_app.core.model.manifest import missing_network_files, read_manifest
from kneeseg_app.core.model.schema import MANIFEST, InvalidManifest, Manifest, NetworkFile

INPUT_TENSOR = "input"
OUTPUT_TENSOR = "logits"


class ModelPackageError(ModelError):
    """A model package cannot be used; ``reason`` says why in a few words."""

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"The model at {self.path} cannot be used: {reason}.")


@dataclass
class OnnxNetwork:
    """One opened network: an onnxruntime session and the names to call it by."""

    file: str
    session: Any
    input_name: str = INPUT_TENSOR
    output_name: str = OUTPUT_TENSOR

    def run(self, batch: Any, run_options: Any = None) -> Any:
        import numpy as np

        out = self.session.run([self.output_name], {self.input_name: batch}, run_options)[0]
        return np.asarray(out, dtype=np.float32)


class ModelPackage:
    """A validated model package; networks open only when :meth:`open_networks` is called."""

    def __init__(self, path: Path, manifest: Manifest, origin: str = "path") -> None:
        self.path = path
        self.manifest = manifest
        self.origin = origin
        """Where it was found: 'bundled', 'user', 'extra' or 'path'."""
        self._verified = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"ModelPackage({self.manifest.name!r} v{self.manifest.version}, {self.path})"

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def label_names(self) -> dict[int, str]:
        """Foreground labels: value -> bone name (background left out)."""
        return {k: v for k, v in self.manifest.labels.items() if k != 0}

    @property
    def n_labels(self) -> int:
        return len(self.manifest.labels)

    @property
    def not_for_clinical_use(self) -> bool:
        return not self.manifest.clinical_use

    def network_paths(self) -> list[Path]:
        return [self.path / n.file for n in self.manifest.networks]

    def summary(self) -> str:
        """A few lines for a person: what it is, what it was trained on, how good it is."""
        m = self.manifest
        spec = m.input
        bones = ", ".join(f"{k}={v}" for k, v in self.label_names.items())
        spacing = " x ".join(f"{s:g}" for s in spec.target_spacing)
        patch = " x ".join(str(p) for p in spec.patch_size)
        folds = len(m.networks)
        lines = [
            f"{m.name} {m.version} ({m.family}, {folds} network{'s' if folds > 1 else ''}){'  [default]' if m.default else ''}",
            f"  {m.description}" if m.description else "",
            f"  labels      {bones}",
            f"  input       {spec.orientation}, spacing {spacing} mm, patch {patch}, CT window {m.normalization.lower:g}..{m.normalization.upper:g} HU",
            f"  training    {m.training.data or '?'}" + (f", {m.training.cases} cases" if m.training.cases else ""),
        ]
        if m.validation.dice:
            dice = ", ".join(f"{b} {d:.3f}" for b, d in m.validation.dice.items())
            hd = ", ".join(f"{b} {d:.2f}" for b, d in m.validation.hd95_mm.items())
            cases = f" on {m.validation.cases} cases" if m.validation.cases else ""
            lines.append(f"  validation  Dice {dice}" + (f"; HD95 mm {hd}" if hd else "") + cases)
        if self.not_for_clinical_use:
            lines.append("  NOT FOR CLINICAL USE")
        lines.append(f"  folder      {self.path}")
        return "\n".join(line for line in lines if line)

    # ----- checks that need the ONNX files ----------------------------------
    def _read_verified(self, network: NetworkFile, precision: str = "float32") -> bytes:
        name, sha256 = network.for_precision(precision)
        file = self.path / name
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise ModelPackageError(self.path, f"its network {name} cannot be read ({exc.strerror or exc})") from exc
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ModelPackageError(
                self.path, f"the checksum of {name} does not match its manifest (damaged or replaced file)"
            )
        return data

    def has_precision(self, precision: str) -> bool:
        """Whether every network exists at ``precision`` ('float32' always does)."""
        return precision == "float32" or all(n.int8_file for n in self.manifest.networks)

    def verify(self) -> None:
        """Check every network's sha256 against the manifest (once; cached)."""
        with self._lock:
            if self._verified:
                return
            for network in self.manifest.networks:
                self._read_verified(network)
                if network.int8_file:
                    self._read_verified(network, "int8")
            self._verified = True

    def open_networks(self, threads: int = 1, precision: str = "float32") -> list[OnnxNetwork]:
        """Verify checksums, then open each network in onnxruntime and check its inputs/outputs.

        The bytes that were hashed are the bytes given to onnxruntime, so a file swapped
        between the check and the load cannot slip through. ``precision`` 'int8' opens
        each network's quantised copy.
        """
        if not self.has_precision(precision):
            raise ModelPackageError(self.path, f"it has no {precision} networks")
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = max(int(threads), 1)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        opened = []
        for network in self.manifest.networks:
            data = self._read_verified(network, precision)
            name = network.for_precision(precision)[0]
            try:
                session = ort.InferenceSession(data, sess_options=options, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own untyped errors
                detail = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
                raise ModelPackageError(self.path, f"{name} is not a valid ONNX model ({detail})") from exc
            opened.append(self._checked_network(name, session))
        with self._lock:
            self._verified = True
        return opened

    def _checked_network(self, file: str, session: Any) -> OnnxNetwork:
        dims = self.manifest.input.dims
        inputs, outputs = session.get_inputs(), session.get_outputs()
        if [i.name for i in inputs] != [INPUT_TENSOR]:
            raise ModelPackageError(
                self.path, f"{file} has inputs {[i.name for i in inputs]}, not one input named '{INPUT_TENSOR}'"
            )
        if OUTPUT_TENSOR not in [o.name for o in outputs]:
            raise ModelPackageError(self.path, f"{file} has no output named '{OUTPUT_TENSOR}'")
        output = next(o for o in outputs if o.name == OUTPUT_TENSOR)
        for what, tensor in (("input", inputs[0]), ("output", output)):
            if len(tensor.shape) != dims + 2:
                raise ModelPackageError(
                    self.path, f"{file} has a rank-{len(tensor.shape)} {what} but a {dims}D model needs rank {dims + 2}"
                )
            if "float" not in str(tensor.type):
                raise ModelPackageError(self.path, f"{file} has a {tensor.type} {what}, not a float tensor")
        channels = output.shape[1]
        if isinstance(channels, int) and channels != self.n_labels:
            raise ModelPackageError(
                self.path, f"{file} gives {channels} output channels but the manifest has {self.n_labels} labels"
            )
        in_channels = inputs[0].shape[1]
        if isinstance(in_channels, int) and in_channels != 1:
            raise ModelPackageError(self.path, f"{file} expects {in_channels} input channels, not 1")
        return OnnxNetwork(file=file, session=session)


def load_model_package(folder: str | os.PathLike[str], origin: str = "path") -> ModelPackage:
    """Read and validate a package folder (or its manifest.json); ModelError says why not."""
    path = Path(folder)
    if path.name == MANIFEST and path.is_file():
        path = path.parent
    if not path.is_dir():
        if path.suffix.lower() == ".onnx" and path.is_file():
            raise ModelPackageError(path, "there is no manifest.json beside it")
        raise ModelPackageError(path, "the folder does not exist")
    manifest_file = path / MANIFEST
    if not manifest_file.is_file():
        raise ModelPackageError(path, "the folder has no manifest.json")
    try:
        manifest = read_manifest(manifest_file)
    except InvalidManifest as exc:
        raise ModelPackageError(path, exc.reason) from None
    missing = missing_network_files(path, manifest)
    if missing:
        raise ModelPackageError(path, f"its network file {', '.join(missing)} is missing")
    return ModelPackage(path.resolve(), manifest, origin=origin)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """sha256 of a file, streamed (for writing manifests)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
