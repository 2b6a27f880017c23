"""The independent knee-CT phantom generator (benchmarks/independent_phantoms; EVALUATION ONLY).

A tiny case written as DICOM + NIfTI must read back through the app's own reader with
correct LPS geometry, and its labels must be exactly the femur and tibia of the
generator's implicit anatomy at each voxel centre (nothing approximated, nothing shifted).
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.independent_phantoms.dicom_out import write_case  # noqa: E402
from benchmarks.independent_phantoms.leg_model import leg_fields  # noqa: E402
from benchmarks.independent_phantoms.params import Case, Leg, Scanner  # noqa: E402
from kneeseg_app.core.imageio import open_volume, read_label_map  # noqa: E402

KNEE = (-70.0, 10.0, 5.0)  # a right knee lies on the patient's right: LPS x < 0
SCANNER = Scanner(
    matrix=48,
    fov_mm=200.0,
    centre_xy=(-60.0, 5.0),
    slice_spacing_mm=5.0,
    slice_thickness_mm=5.0,
    z_first_mm=-45.0,
    slices=19,
    kernel="sharp",
    noise_hu=10.0,
    hu_offset=5.0,
    padding_hu=-2048.0,
    padding_tag=False,
    rescale=(0.5, -1024.0),
    table="flat",
)


@pytest.fixture(scope="module", params=[1.0, -1.0], ids=["columns-to-left", "columns-to-right"])
def tiny_case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[Case, Path, Path]:
    case = Case(
        name="tiny",
        variation="test",
        legs=(Leg(side="right", knee_xyz=KNEE, flexion_deg=10.0),),
        scanner=replace(SCANNER, row_direction=request.param),
        seed=3,
    )
    dicom_dir, labels = write_case(case, tmp_path_factory.mktemp("independent"))
    return case, dicom_dir, labels


def _centres_lps(volume) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """LPS (x, y, z) of every voxel centre, from the volume's own geometry (z, y, x arrays)."""
    k, j, i = np.indices(volume.array.shape, dtype=np.float64)
    spacing_xyz = np.array(volume.spacing_zyx[::-1])
    index = np.stack([i.ravel(), j.ravel(), k.ravel()]) * spacing_xyz[:, None]
    lps = np.asarray(volume.origin_xyz)[:, None] + np.asarray(volume.direction) @ index
    return tuple(c.reshape(volume.array.shape).astype(np.float32) for c in lps)


def test_dicom_reads_back_on_the_lps_grid_the_case_describes(tiny_case) -> None:
    case, dicom_dir, _labels = tiny_case
    ct = open_volume(dicom_dir)
    pixel = SCANNER.fov_mm / SCANNER.matrix
    flip = case.scanner.row_direction  # -1: columns run toward the patient's right, slices stack downward
    assert ct.array.shape == (SCANNER.slices, SCANNER.matrix, SCANNER.matrix)
    assert np.allclose(ct.spacing_zyx, (SCANNER.slice_spacing_mm, pixel, pixel), atol=1e-4)
    first_x = SCANNER.centre_xy[0] - flip * (100.0 - pixel / 2)
    top_z = SCANNER.z_first_mm + (SCANNER.slices - 1) * SCANNER.slice_spacing_mm
    expected_origin = (first_x, SCANNER.centre_xy[1] - 100.0 + pixel / 2, -45.0 if flip > 0 else top_z)
    assert np.allclose(ct.origin_xyz, expected_origin, atol=1e-3)
    assert np.allclose(np.asarray(ct.direction), np.diag([flip, 1.0, flip]))
    assert ct.dicom.modality == "CT" and ct.dicom.body_part == "KNEE"
    assert ct.array[:, 0, 0].max() <= -2000  # outside the reconstruction circle: the padding, rescaled


def test_labels_are_exactly_the_generator_bones_at_each_voxel_centre(tiny_case) -> None:
    case, dicom_dir, labels_path = tiny_case
    ct = open_volume(dicom_dir)
    labels = read_label_map(labels_path, reference=ct)
    x, y, z = _centres_lps(labels)
    fields = leg_fields(case.legs[0], x, y, z)
    inside_circle = (x - SCANNER.centre_xy[0]) ** 2 + (y - SCANNER.centre_xy[1]) ** 2 <= 100.0**2
    expected = np.where(fields.femur < 0, 1, np.where(fields.tibia < 0, 2, 0)) * inside_circle
    assert np.array_equal(labels.array, expected.astype(labels.array.dtype))
    assert set(np.unique(labels.array)) == {0, 1, 2}


def test_image_and_labels_agree_bone_is_dense_and_the_femur_lies_above_the_tibia(tiny_case) -> None:
    _case, dicom_dir, labels_path = tiny_case
    ct = open_volume(dicom_dir)
    labels = read_label_map(labels_path, reference=ct).array
    assert np.median(ct.array[labels == 1]) > 250 and np.median(ct.array[labels == 2]) > 250
    x, _y, z = _centres_lps(ct)
    assert z[labels == 1].mean() > z[labels == 2].mean() + 20.0  # the femur is the upper (superior, +z) bone
    assert abs(x[labels == 1].mean() - KNEE[0]) < 25.0  # the right knee is where the case put it (x < 0)


def test_neither_the_app_nor_the_trainer_uses_the_independent_phantoms() -> None:
    """They measure generalisation only while no model is trained on them (and the app never ships them)."""
    root = Path(__file__).resolve().parents[1]
    users = [
        str(path.relative_to(root))
        for package in ("kneeseg_app", "trainer")
        for path in (root / package).rglob("*.py")
        if "independent_phantoms" in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert users == []
