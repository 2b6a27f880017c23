"""nnU-Net's folders, environment and the subprocess every nnU-Net step runs in.

Why a subprocess with an explicit environment: nnU-Net takes its folders
(``nnUNet_raw``, ``nnUNet_preprocessed``, ``nnUNet_results``), its worker counts
(``nnUNet_n_proc_DA``, ``nnUNet_def_n_proc``, read once at import time) and the place
of external trainer classes (``nnUNet_extTrainer``) from environment variables. Setting
them in our own process would be a hidden side effect and too late once nnunetv2 is
imported; so :func:`nnunet_environment` builds the complete environment as a dict and
:func:`run_nnunet_step` starts ``python -m trainer.nnunet.worker`` with it. Our process
never changes ``os.environ``. The same variables, printed by ``kneeseg-train env``, let a
person run nnU-Net's own commands (``nnUNetv2_predict``...) on our results.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from kneeseg_app.core.progress import CancelToken, ProgressCallback, no_progress
from trainer.errors import TrainingError

DEVICES = ("cuda", "cpu", "mps")


@dataclass(frozen=True)
class NnunetFolders:
    """The three nnU-Net folders of one study (all below one work folder by default)."""

    raw: Path
    preprocessed: Path
    results: Path

    @classmethod
    def in_workdir(cls, workdir: str | os.PathLike[str]) -> NnunetFolders:
        root = Path(workdir).resolve()
        return cls(root / "nnUNet_raw", root / "nnUNet_preprocessed", root / "nnUNet_results")


@dataclass(frozen=True)
class Compute:
    """Where and with how many workers nnU-Net runs.

    ``threads``: torch/OpenMP threads of the main process (default: all cores on CPU,
    1 on a GPU as nnU-Net does). ``augmentation_workers``: nnU-Net's data augmentation
    processes (``nnUNet_n_proc_DA``); 0 runs augmentation in the training process
    (nnU-Net's SingleThreadedAugmenter), the right choice on a small CPU.
    """

    device: str = "cuda"
    threads: int | None = None
    augmentation_workers: int | None = None
    num_gpus: int = 1
    compile: bool | None = None
    """torch.compile in nnU-Net's trainer (``nnUNet_compile``); None: nnU-Net's default (on for CUDA).
    Compiling costs minutes, worth it for long runs only."""

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {DEVICES}, not {self.device!r}")

    @property
    def torch_threads(self) -> int:
        if self.threads:
            return self.threads
        return (os.cpu_count() or 1) if self.device == "cpu" else 1

    @property
    def da_workers(self) -> int:
        if self.augmentation_workers is not None:
            return max(0, self.augmentation_workers)
        cores = os.cpu_count() or 1
        return 0 if self.device == "cpu" or cores <= 2 else min(12, cores - 1)

    def for_planning(self) -> Compute:
        """Planning calls ``torch.set_num_threads(nnUNet_n_proc_DA)``, which must be >= 1."""
        return replace(self, augmentation_workers=max(1, self.da_workers))

    @property
    def export_workers(self) -> int:
        """``nnUNet_def_n_proc``: nnU-Net's preprocessing and export processes, and the torch threads
        of its predictor during the final validation (which caps them at this number)."""
        return max(1, min(8, os.cpu_count() or 1))


def ext_trainer_dir() -> Path:
    """The folder to put in ``nnUNet_extTrainer`` so nnU-Net finds KneeSeg's trainers."""
    return Path(__file__).resolve().parent / "ext"


def nnunet_environment(
    folders: NnunetFolders, compute: Compute, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The complete environment of an nnU-Net process for these folders and compute settings."""
    env = dict(os.environ if base is None else base)
    package_root = str(Path(__file__).resolve().parents[2])
    python_path = [package_root] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    threads = str(compute.torch_threads)
    env.update(
        {
            "nnUNet_raw": str(folders.raw),
            "nnUNet_preprocessed": str(folders.preprocessed),
            "nnUNet_results": str(folders.results),
            "nnUNet_extTrainer": str(ext_trainer_dir()),
            "nnUNet_n_proc_DA": str(compute.da_workers),
            "nnUNet_def_n_proc": str(compute.export_workers),
            "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads,
            "OPENBLAS_NUM_THREADS": threads,
            "TORCHINDUCTOR_COMPILE_THREADS": "1",
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(python_path)),
            "PYTHONUNBUFFERED": "1",
        }
    )
    if compute.compile is not None:
        env["nnUNet_compile"] = "t" if compute.compile else "f"
    return env


def shell_exports(env: Mapping[str, str]) -> str:
    """``export`` lines of the nnU-Net variables, for a person who runs nnU-Net by hand."""
    keys = ("nnUNet_raw", "nnUNet_preprocessed", "nnUNet_results", "nnUNet_extTrainer", "PYTHONPATH")
    return "\n".join(f"export {k}={json.dumps(env[k])}" for k in keys if k in env)


_EPOCH = re.compile(r"Epoch (\d+)\b")


def run_nnunet_step(
    step: str,
    job: dict,
    env: Mapping[str, str],
    log_file: Path,
    progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    epochs: int | None = None,
    echo: bool = True,
) -> None:
    """Run one step of :mod:`trainer.nnunet.worker` in a subprocess; raise TrainingError on failure.

    Output goes to ``log_file`` (and to our stdout when ``echo``); "Epoch N" lines
    drive ``progress`` when ``epochs`` is known. Cancelling kills the step's process group.
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "trainer.nnunet.worker", step, json.dumps(job)]
    progress(step, 0.0)
    with open(log_file, "a", encoding="utf-8") as log:
        log.write(f"$ {' '.join(command)}\n")
        log.flush()
        proc = subprocess.Popen(
            command,
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            encoding="utf-8",
            errors="replace",
            start_new_session=True,
        )
        remove = cancel.add_listener(lambda: _kill_group(proc)) if cancel is not None else None
        tail: list[str] = []
        pump = threading.Thread(target=_pump, args=(proc, log, tail, echo, progress, step, epochs), daemon=True)
        pump.start()
        try:
            code = proc.wait()
            pump.join()
        finally:
            if remove is not None:
                remove()
            if proc.poll() is None:
                _kill_group(proc)
    if cancel is not None:
        cancel.raise_if_cancelled()
    if code != 0:
        raise TrainingError(f"nnU-Net step '{step}' failed ({_failure_reason(code, tail)}); see {log_file}.")
    progress(step, 1.0)


def _failure_reason(code: int, tail: list[str]) -> str:
    """The exception line of a Python traceback in the output, else its last line."""
    if code < 0:
        return f"stopped by signal {-code}"
    lines = [line.strip() for line in tail if line.strip()]
    errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Interrupt)\b", line)]
    return (errors or lines or ["no output"])[-1][:300]


def _pump(
    proc: subprocess.Popen, log, tail: list[str], echo: bool, progress: ProgressCallback, step: str, epochs: int | None
) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        log.write(line)
        if echo:
            sys.stdout.write(line)
        tail.append(line)
        del tail[:-40]
        match = _EPOCH.search(line)
        if match and epochs:
            progress(step, min(1.0, int(match.group(1)) / epochs))
    log.flush()


def _kill_group(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            proc.terminate()
