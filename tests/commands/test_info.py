"""``kneeseg info``: the series table with the best marked, what was set aside, and the chosen volume."""

from __future__ import annotations

from pathlib import Path

import pytest
import SimpleITK as sitk
from dicom_factory import CTSeries, tilted_axial, write_dose_sr, write_localizer

from kneeseg_app.cli import main


def _cd_export(root: Path) -> None:
    bone = CTSeries(n_slices=9, description="Knee 1.0 Bone", kernel="BONE", series_number=3)
    bone.write(root / "S3")
    bone.but(
        n_slices=5, description="Knee 2.0 Soft", kernel="STANDARD", series_number=4, slice_step=2.0, thickness=2.0
    ).write(root / "S4")
    write_localizer(root / "S1")
    write_dose_sr(root / "S998")
    (root / "AUTORUN.INF").write_text("[autorun]")


def test_info_lists_candidates_with_the_best_marked_and_describes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _cd_export(tmp_path)

    assert main(["info", str(tmp_path)]) == 0

    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if "description" in line)
    for column in ("#", "modality", "slices", "thickness", "kernel", "size"):
        assert column in header
    best = next(line for line in lines if line.startswith("* "))
    assert "Knee 1.0 Bone" in best and "BONE" in best and " 9 " in best and "1.00 mm" in best and "32x32" in best
    assert any(line.startswith("  2") and "Knee 2.0 Soft" in line and "STANDARD" in line for line in lines)
    assert "Not image volumes:" in out and "localizer" in out and "dose report" in out
    assert "1 other file(s) skipped" in out
    assert "Series 1: Knee 1.0 Bone" in out and "size        32 x 32 x 9 voxels" in out
    assert "Knee 2.0 Soft" not in out.split("Series 1:")[1]


def test_info_series_option_chooses_by_number(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _cd_export(tmp_path)

    assert main(["info", str(tmp_path), "--series", "2"]) == 0

    described = capsys.readouterr().out.split("Series 2:")[1]
    assert "Knee 2.0 Soft" in described and "32 x 32 x 5 voxels" in described


def test_info_all_describes_every_candidate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _cd_export(tmp_path)

    assert main(["info", str(tmp_path), "--all"]) == 0

    out = capsys.readouterr().out
    assert "Series 1: Knee 1.0 Bone" in out and "Series 2: Knee 2.0 Soft" in out


def test_info_shows_geometry_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    CTSeries(n_slices=6, orientation=tilted_axial(15.0), stack_direction=(0.0, 0.0, 1.0), gantry_tilt=15.0).write(
        tmp_path
    )

    assert main(["info", str(tmp_path)]) == 0

    out = capsys.readouterr().out
    assert "gantry tilt 15.0°" in out  # in the table
    assert "WARNING     Gantry tilt of 15.0°" in out  # on the volume


def test_info_describes_a_volume_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    image = sitk.Image(6, 5, 4, sitk.sitkInt16)
    image.SetSpacing((0.5, 0.5, 2.0))
    sitk.WriteImage(image, str(tmp_path / "ct.nii.gz"))

    assert main(["info", str(tmp_path / "ct.nii.gz")]) == 0

    assert "size        6 x 5 x 4 voxels" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda root: root / "missing", "does not exist"),
        (
            lambda root: CTSeries(modality="MR", sop_class_uid="1.2.840.10008.5.1.4.1.1.4").write(root) and root,
            "is MR, not CT",
        ),
        (lambda root: CTSeries(n_slices=1).write(root) and root, "single slice"),
    ],
    ids=["missing-folder", "mr-only", "single-slice"],
)
def test_info_on_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make, message: str
) -> None:  # type: ignore[no-untyped-def]
    path = make(tmp_path)

    assert main(["info", str(path)]) == 2

    err = capsys.readouterr().err.strip()
    assert err.startswith("kneeseg: ") and message in err and "\n" not in err


def test_info_unknown_series_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _cd_export(tmp_path)

    assert main(["info", str(tmp_path), "--series", "7"]) == 2
    assert "no series '7'" in capsys.readouterr().err
