"""Build the KneeSeg one-folder bundle for hospital PCs, check it, and archive it.

    python packaging/build.py [--dist DIR] [--work DIR] [--models DIR] [--no-archive]

Produces ``DIST/KneeSeg/`` (``KneeSeg`` window + ``kneeseg-cli`` console executables,
``_internal/``, ``THIRD-PARTY-NOTICES.txt``, ``licenses/``, ``README.txt``) and
``DIST/KneeSeg-<version>-<platform>.tar.gz`` (``.zip`` on Windows). Run it with the
Python of the environment the app runs in (PyInstaller freezes that environment);
it needs no network. The build fails when the bundle lacks its model, its self-test
samples or Qt's platform plugins, or contains anything from the trainer's stack.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from string import Template

PACKAGING = Path(__file__).resolve().parent
REPO = PACKAGING.parent
SPEC = PACKAGING / "kneeseg.spec"
APP_NAME = "KneeSeg"
CLI_NAME = "kneeseg-cli"
INTERNAL = "_internal"

FORBIDDEN_MODULES = (
    "torch",
    "torchvision",
    "triton",
    "nnunetv2",
    "trainer",
    "dynamic_network_architectures",
    "batchgenerators",
    "matplotlib",
    "pandas",
    "onnx",
    "sklearn",
    "skimage",
    "sympy",
    "IPython",
    "tkinter",
    "pytest",
    "PIL",
    "cuda",
    "cupy",
)
"""Top-level Python packages that must not be in the bundle (the trainer's stack, plotting, tests)."""

FORBIDDEN_FILES = (
    "*torch*",
    "*libcudnn*",
    "*libcublas*",
    "*nvidia*",
    "*matplotlib*",
    "*pandas*",
    "*QtWebEngine*",
    "*Qt6WebEngine*",
    "*Qt6Quick*",
    "*Qt6Qml*",
    "*Qt63D*",
    "*QtQuick*",
    "*QtQml*",
    "*Qt3D*",
    "*Qt6Multimedia*",
    "*Qt6Pdf*",
    "*Qt6Charts*",
    "*Qt6DataVisualization*",
    "*Qt6Graphs*",
    "*libtk*",
    "*libtcl*",
)
"""File-name patterns (checked on every path in the bundle, case-insensitive) that must not occur."""

REQUIRED_MODULES = (
    "kneeseg_app",
    "numpy",
    "scipy",
    "SimpleITK",
    "pydicom",
    "onnxruntime",
    "PySide6",
    "pyqtgraph",
    "OpenGL",
    "fast_simplification",
)
"""Top-level packages the app imports (OpenGL: the 3D view; fast_simplification: surface meshes)."""

NOTICE_NAMES = ("LICENSE*", "LICENCE*", "COPYING*", "NOTICE*", "ThirdPartyNotices*", "AUTHORS*")


# ----------------------------------------------------------------------------
# names
# ----------------------------------------------------------------------------
def app_version() -> str:
    sys.path.insert(0, str(REPO))
    from kneeseg_app import __version__

    return __version__


def platform_tag(system: str | None = None, machine: str | None = None) -> str:
    """``linux-x86_64``, ``windows-x86_64``, ``macos-arm64`` ..."""
    system = (system or platform.system()).lower()
    machine = (machine or platform.machine()).lower()
    system = {"win32": "windows", "darwin": "macos"}.get(system, system)
    machine = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(machine, machine)
    return f"{system}-{machine}"


def archive_name(version: str, tag: str) -> str:
    """``KneeSeg-0.1.0-linux-x86_64.tar.gz``; Windows engineers get a ``.zip``."""
    suffix = ".zip" if tag.startswith("windows") else ".tar.gz"
    return f"{APP_NAME}-{version}-{tag}{suffix}"


def executable_path(bundle: Path, name: str) -> Path:
    return bundle / (f"{name}.exe" if sys.platform == "win32" else name)


# ----------------------------------------------------------------------------
# PyInstaller
# ----------------------------------------------------------------------------
def run_pyinstaller(dist: Path, work: Path, models: Path, python: str = sys.executable) -> Path:
    """Freeze the app with the spec; returns the bundle folder ``dist/KneeSeg``."""
    command = [
        python,
        "-m",
        "PyInstaller",
        "--noconfirm",
        "--log-level",
        "WARN",
        "--distpath",
        str(dist),
        "--workpath",
        str(work),
        str(SPEC),
        "--",
        "--models",
        str(models),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "QT_QPA_PLATFORM")}
    subprocess.run(command, check=True, cwd=REPO, env=env)
    return dist / APP_NAME


# ----------------------------------------------------------------------------
# what is inside
# ----------------------------------------------------------------------------
def bundle_files(bundle: Path) -> list[str]:
    """Every path in the bundle, relative and with '/' separators."""
    return sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*"))


def bundle_modules(bundle: Path) -> set[str]:
    """Python modules frozen into the executables (their PYZ archives) plus the packages on disk."""
    from PyInstaller.archive.readers import pkg_archive_contents

    modules: set[str] = set()
    for name in (APP_NAME, CLI_NAME):
        exe = executable_path(bundle, name)
        if exe.is_file():
            modules.update(pkg_archive_contents(str(exe), recursive=True))
    internal = bundle / INTERNAL
    if internal.is_dir():
        modules.update(p.name.split(".")[0] for p in internal.iterdir())
    return modules


def top_level(modules: Iterable[str]) -> set[str]:
    return {m.split(".")[0] for m in modules if m}


def forbidden_content(bundle: Path) -> list[str]:
    """What must not be there: forbidden top-level packages and files (empty list: clean)."""
    found = [f"module {m}" for m in sorted(top_level(bundle_modules(bundle)) & set(FORBIDDEN_MODULES))]
    for rel in bundle_files(bundle):
        name = rel.rsplit("/", 1)[-1].lower()
        if any(fnmatch.fnmatch(name, pattern.lower()) for pattern in FORBIDDEN_FILES):
            found.append(f"file {rel}")
    return found


def missing_content(bundle: Path) -> list[str]:
    """What must be there for the bundle to segment a CT on a PC with nothing installed."""
    files = bundle_files(bundle)
    resources = f"{INTERNAL}/resources"
    wanted = {
        "the window executable": executable_path(bundle, APP_NAME).name,
        "the console executable": executable_path(bundle, CLI_NAME).name,
        "a model package": f"{resources}/models/*/manifest.json",
        "an ONNX network": f"{resources}/models/*/*.onnx",
        "the JPEG 2000 self-test sample": f"{resources}/selftest/jpeg2000-lossless/*.dcm",
        "the JPEG lossless self-test sample": f"{resources}/selftest/jpeg-lossless/*.dcm",
        "the icon": f"{resources}/icons/kneeseg.png",
        "onnxruntime": f"{INTERNAL}/onnxruntime/capi/*onnxruntime*",
        "SimpleITK": f"{INTERNAL}/SimpleITK/_SimpleITK*",
    }
    if sys.platform == "win32":
        wanted["Qt's windows platform plugin"] = f"{INTERNAL}/PySide6/plugins/platforms/qwindows.dll"
    elif sys.platform.startswith("linux"):
        wanted["Qt's xcb platform plugin"] = f"{INTERNAL}/PySide6/Qt/plugins/platforms/libqxcb.so"
        wanted["Qt's offscreen platform plugin"] = f"{INTERNAL}/PySide6/Qt/plugins/platforms/libqoffscreen.so"
    missing = [what for what, pattern in wanted.items() if not fnmatch.filter(files, pattern)]
    modules = top_level(bundle_modules(bundle))
    return missing + [f"the Python package {name}" for name in REQUIRED_MODULES if name not in modules]


# ----------------------------------------------------------------------------
# licences and notices
# ----------------------------------------------------------------------------
@dataclass(frozen=True)
class BundledDistribution:
    name: str
    version: str
    license: str
    dist: metadata.Distribution


def bundled_distributions(bundle: Path) -> list[BundledDistribution]:
    """The installed distributions whose top-level packages are in the bundle (not KneeSeg itself)."""
    owners = metadata.packages_distributions()
    names: set[str] = set()
    for module in top_level(bundle_modules(bundle)) - set(sys.stdlib_module_names):
        names.update(owners.get(module, ()))
    result = []
    for name in sorted(names, key=str.lower):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        if dist.metadata["Name"].lower() == "kneeseg":
            continue
        meta = dist.metadata
        licence = licence_summary(meta)
        result.append(BundledDistribution(meta["Name"], dist.version, licence, dist))
    return result


def licence_summary(meta: metadata.PackageMetadata) -> str:
    """A short licence name: the SPDX expression, else the trove classifiers, else the License field's first line."""
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return expression
    classifiers = [
        c.rsplit("::", 1)[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")
    ]
    raw = (meta.get("License") or "").strip()
    if raw and len(raw) <= 60:
        return raw
    return ", ".join(classifiers) or (raw.splitlines()[0][:60] if raw else "see its licence files")


def notice_files(dist: metadata.Distribution) -> list[Path]:
    """The licence/notice files a distribution installed (its dist-info and package folder)."""
    found = []
    for file in dist.files or ():
        name = file.name
        parts = {p.lower() for p in file.parts}
        if parts & {"tests", "test", "examples", "doc", "docs", "include"} and "dist-info" not in str(file):
            continue
        if any(fnmatch.fnmatch(name, pattern) for pattern in NOTICE_NAMES):
            path = Path(str(dist.locate_file(file)))
            if path.is_file() and path.suffix not in (".py", ".pyc", ".so", ".pyd", ".dll"):
                found.append(path)
    return found


FALLBACK_LICENCES = {
    "pyside6": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "pyside6-essentials": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "shiboken6": ("LGPL-3.0.txt", "GPL-3.0.txt"),
    "pyopengl": ("PyOpenGL.txt",),
}
"""Licence texts shipped in packaging/licenses/ for packages whose wheels install none."""


def normalized(name: str) -> str:
    """PEP 503 form of a distribution name (``PySide6_Essentials`` -> ``pyside6-essentials``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def write_licenses(bundle: Path, distributions: list[BundledDistribution]) -> Path:
    """Copy each bundled package's licence files into ``licenses/<package>/`` (plus LGPL/GPL texts)."""
    target = bundle / "licenses"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir()
    for text in ("LGPL-3.0.txt", "GPL-3.0.txt", "Apache-2.0.txt"):
        shutil.copy2(PACKAGING / "licenses" / text, target / text)
    for item in distributions:
        folder = target / normalized(item.name)
        folder.mkdir(exist_ok=True)
        for file in notice_files(item.dist):
            destination = folder / file.name
            if destination.exists():
                destination = folder / f"{file.parent.name}-{file.name}"
            shutil.copy2(file, destination)
        for text in FALLBACK_LICENCES.get(normalized(item.name), ()):
            shutil.copy2(PACKAGING / "licenses" / text, folder / text)
    python_licence = (
        Path(sys.base_prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "LICENSE.txt"
    )
    windows_licence = Path(sys.base_prefix) / "LICENSE.txt"
    for candidate in (python_licence, windows_licence):
        if candidate.is_file():
            (target / "python").mkdir(exist_ok=True)
            shutil.copy2(candidate, target / "python" / "LICENSE.txt")
            break
    return target


def model_notices(bundle: Path) -> list[str]:
    """One paragraph per bundled model: name, version, licence and training data from its manifest."""
    lines = []
    for manifest_file in sorted((bundle / INTERNAL / "resources" / "models").glob("*/manifest.json")):
        try:
            manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        training = manifest.get("training") or {}
        lines += [
            f"{manifest.get('name', manifest_file.parent.name)} {manifest.get('version', '')}".rstrip(),
            f"    licence:       {manifest.get('license') or 'not stated in its manifest'}",
            f"    training data: {training.get('data') or 'not stated'}",
            f"    clinical use:  {'yes' if manifest.get('clinical_use') else 'NO (research only)'}",
            "",
        ]
    return lines or ["(no model is bundled)"]


def write_notices(bundle: Path, distributions: list[BundledDistribution], version: str) -> Path:
    """THIRD-PARTY-NOTICES.txt next to the executables, completed with versions and model licences."""
    qt = next((d.version for d in distributions if d.name.lower().startswith("pyside6")), "?")
    rows = [f"{d.name:<28} {d.version:<14} {d.license}  (licenses/{normalized(d.name)}/)" for d in distributions]
    rows.append(f"{'Python':<28} {platform.python_version():<14} PSF-2.0  (licenses/python/)")
    text = Template((PACKAGING / "THIRD-PARTY-NOTICES.txt").read_text(encoding="utf-8")).safe_substitute(
        version=version,
        qt_version=qt,
        pyside_version=qt,
        distributions="\n".join(rows),
        models="\n".join(model_notices(bundle)),
    )
    target = bundle / "THIRD-PARTY-NOTICES.txt"
    target.write_text(text, encoding="utf-8", newline="\r\n" if sys.platform == "win32" else "\n")
    shutil.copy2(PACKAGING / "README.md", bundle / "README.txt")
    return target


# ----------------------------------------------------------------------------
# archive and sizes
# ----------------------------------------------------------------------------
def write_archive(bundle: Path, target: Path, root_name: str, level: int = 6) -> Path:
    """The bundle as one file to copy onto an offline PC; it unpacks into ``root_name/``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    if target.name.endswith(".zip"):
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as archive:
            for path in sorted(bundle.rglob("*")):
                archive.write(path, f"{root_name}/{path.relative_to(bundle).as_posix()}")
    else:
        with tarfile.open(partial, "w:gz", compresslevel=level) as archive:
            archive.add(bundle, arcname=root_name)
    os.replace(partial, target)
    return target


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB"


# ----------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------
def build(
    dist: Path, work: Path, models: Path, archive: bool = True, allow_no_model: bool = False
) -> tuple[Path, Path | None]:
    """Freeze, verify, add notices, archive. Raises SystemExit with a message when the bundle is unusable."""
    version = app_version()
    started = time.perf_counter()
    bundle = run_pyinstaller(dist, work, models)
    built = time.perf_counter()
    forbidden = forbidden_content(bundle)
    if forbidden:
        raise SystemExit("The bundle contains what must not ship:\n  " + "\n  ".join(forbidden))
    missing = [m for m in missing_content(bundle) if not (allow_no_model and ("model" in m or "ONNX" in m))]
    if missing:
        raise SystemExit(f"The bundle lacks {', '.join(missing)} (models were taken from {models}).")
    distributions = bundled_distributions(bundle)
    write_licenses(bundle, distributions)
    write_notices(bundle, distributions, version)
    print(f"Bundle: {bundle} ({mib(folder_size(bundle))} unpacked; PyInstaller took {built - started:.0f} s)")
    target = None
    if archive:
        target = write_archive(bundle, dist / archive_name(version, platform_tag()), f"{APP_NAME}-{version}")
        print(f"Archive: {target} ({mib(target.stat().st_size)})")
    return bundle, target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Build the KneeSeg one-folder bundle and its archive.")
    parser.add_argument("--dist", type=Path, default=REPO / "dist", help="output folder (default: dist/)")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "kneeseg-pyinstaller",
        help="PyInstaller's work folder (default: in the temp folder)",
    )
    parser.add_argument(
        "--models",
        type=Path,
        default=REPO / "resources" / "models",
        help="folder of model packages to bundle (default: resources/models)",
    )
    parser.add_argument("--no-archive", action="store_true", help="skip the .tar.gz/.zip archive")
    parser.add_argument(
        "--allow-no-model", action="store_true", help="build even without a model (its self-test will fail)"
    )
    args = parser.parse_args(argv)
    build(args.dist.resolve(), args.work.resolve(), args.models.resolve(), not args.no_archive, args.allow_no_model)
    return 0


if __name__ == "__main__":
    sys.exit(main())
