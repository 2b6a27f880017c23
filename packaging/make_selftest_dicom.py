"""Write the self-test's compressed DICOM samples into ``resources/selftest/`` (run once; output is committed).

Two tiny synthetic CT series (3 slices of 64x64, HU from
:func:`kneeseg_app.core.selftest.decoder_pattern`), written by GDCM through SimpleITK:
one JPEG 2000 lossless, one JPEG lossless (process 14). The self-test reads them through
the app's own DICOM loader and compares every pixel, so a bundle whose GDCM lost its
codecs fails it. No patient data: the pixels are an integer formula.

    PYTHONPATH=. python packaging/make_selftest_dicom.py [--out resources/selftest]
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import SimpleITK as sitk

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from kneeseg_app.core.selftest import DECODER_SAMPLES, SAMPLE_SHAPE_ZYX, decoder_pattern  # noqa: E402

COMPRESSOR = {"jpeg2000-lossless": "JPEG2000", "jpeg-lossless": "JPEG"}
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
UID_ROOT = "1.2.826.0.1.3680043.8.498.7701"  # fixed, so regenerating gives the same UIDs
SPACING_MM = (0.75, 0.75, 1.5)  # x, y, z
ORIGIN_LPS = (-24.0, -24.0, 100.0)

README = """\
Self-test samples for KneeSeg (synthetic, no patient data; CC0-1.0 / public domain).

Each folder is one 3-slice 64x64 CT series whose HU values are the integer formula
kneeseg_app.core.selftest.decoder_pattern; `kneeseg selftest` decodes them through the
app's DICOM loader and compares every pixel.

  jpeg2000-lossless/  Transfer Syntax 1.2.840.10008.1.2.4.90 (JPEG 2000 lossless)
  jpeg-lossless/      Transfer Syntax 1.2.840.10008.1.2.4.70 (JPEG lossless, process 14)

Regenerate with: PYTHONPATH=. python packaging/make_selftest_dicom.py
"""


def slice_tags(name: str, series_index: int, z: int) -> dict[str, str]:
    """The header of slice ``z``: CT, axial, positioned, in one series of its own."""
    x0, y0, z0 = ORIGIN_LPS
    position = (x0, y0, z0 + z * SPACING_MM[2])
    return {
        "0008|0016": CT_IMAGE_STORAGE,
        "0008|0018": f"{UID_ROOT}.{series_index}.{z + 1}",
        "0008|0060": "CT",
        "0008|0070": "KneeSeg synthetic",
        "0008|103e": f"KneeSeg self-test {name}",
        "0010|0010": "SELFTEST^SYNTHETIC",
        "0010|0020": "SELFTEST",
        "0018|0050": f"{SPACING_MM[2]:g}",
        "0018|5100": "FFS",
        "0020|000d": f"{UID_ROOT}.1",
        "0020|000e": f"{UID_ROOT}.{series_index}",
        "0020|0011": str(series_index),
        "0020|0013": str(z + 1),
        "0020|0032": "\\".join(f"{v:g}" for v in position),
        "0020|0037": "1\\0\\0\\0\\1\\0",
        "0028|1050": "400",
        "0028|1051": "2000",
    }


def write_sample(folder: Path, name: str, series_index: int) -> list[Path]:
    """One compressed series of SAMPLE_SHAPE_ZYX slices; returns the files."""
    pattern = decoder_pattern(SAMPLE_SHAPE_ZYX)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    files = []
    for z in range(pattern.shape[0]):
        image = sitk.GetImageFromArray(pattern[z : z + 1])
        image.SetSpacing(SPACING_MM)
        image.SetOrigin((ORIGIN_LPS[0], ORIGIN_LPS[1], ORIGIN_LPS[2] + z * SPACING_MM[2]))
        for tag, value in slice_tags(name, series_index, z).items():
            image.SetMetaData(tag, value)
        writer = sitk.ImageFileWriter()
        writer.SetImageIO("GDCMImageIO")
        writer.KeepOriginalImageUIDOn()
        writer.SetUseCompression(True)
        writer.SetCompressor(COMPRESSOR[name])
        target = folder / f"slice_{z + 1:02d}.dcm"
        writer.SetFileName(str(target))
        writer.Execute(image)
        files.append(target)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "resources" / "selftest")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(DECODER_SAMPLES, start=2):
        files = write_sample(args.out / name, name, index)
        print(f"{name}: {len(files)} files, {sum(f.stat().st_size for f in files)} bytes")
    (args.out / "README.txt").write_text(README, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
