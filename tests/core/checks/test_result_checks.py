"""Result checks: the project's knee phantoms pass every check; deliberately broken label maps fail the matching one."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.checks import CHECK_ORDER, Status, check_result, summary_line
from kneeseg_app.core.checks.confidence import top_probability_bytes
from kneeseg_app.core.checks.outcome import slice_ranges
from kneeseg_app.core.phantom import generate_phantom
from kneeseg_app.core.volume import Volume

NAMES = {1: "femur", 2: "tibia"}


@pytest.fixture(scope="module", params=[0, 3, 11], ids=["one-leg", "both-legs", "both-legs-fine"])
def phantom(request: pytest.FixtureRequest):
    return generate_phantom(request.param, shape_zyx=(64, 128, 128))


def _status(report, check_id: str) -> Status:
    found = report.get(check_id)
    assert found is not None, f"no {check_id} check in {[c.check_id for c in report.checks]}"
    return found.status


def test_phantom_reference_passes_every_check(phantom) -> None:
    report = check_result(phantom.ct, phantom.labels, NAMES)
    problems = [f"{c.check_id}: {c.message}" for c in report.checks if c.status is not Status.PASS]
    assert problems == []
    assert [c.check_id for c in report.checks] == list(CHECK_ORDER)
    assert summary_line(report).startswith("All")


@pytest.mark.parametrize("seed", range(4, 12))
def test_more_phantoms_on_their_own_grids_pass(seed: int) -> None:
    p = generate_phantom(seed, shape_zyx=(48, 96, 96))
    report = check_result(p.ct, p.labels, NAMES)
    assert report.status is Status.PASS, [c.message for c in report.checks if c.status is not Status.PASS]


def _bone_slices(labels: np.ndarray, label: int) -> np.ndarray:
    return np.flatnonzero((labels == label).any(axis=(1, 2)))


def test_a_missing_slab_fails_continuity_and_names_its_slices(phantom) -> None:
    labels = phantom.labels.array.copy()
    femur = _bone_slices(labels, 1)
    middle = int(femur[len(femur) // 2])
    slab = range(middle, middle + 3)
    for k in slab:
        labels[k][labels[k] == 1] = 0
    report = check_result(phantom.ct, labels, NAMES)
    continuity = report.get("continuity")
    assert continuity.status is Status.FAIL
    assert set(slab) <= set(continuity.slices)
    assert "femur vanishes" in continuity.message
    assert report.status is Status.FAIL


def test_a_piece_labelled_in_air_fails_inside_body(phantom) -> None:
    labels = phantom.labels.array.copy()
    air = phantom.ct.array < -900
    z = int(_bone_slices(labels, 1)[0])
    corner = air[z : z + 6, 2:14, 2:14]
    assert corner.all(), "the phantom's corner should be air"
    labels[z : z + 6, 2:14, 2:14] = 1
    report = check_result(phantom.ct, labels, NAMES)
    inside = report.get("inside_body")
    assert inside.status is Status.FAIL
    assert z in inside.slices
    assert "outside the body" in inside.message


def test_swapped_femur_and_tibia_labels_fail_femur_above_tibia(phantom) -> None:
    swapped = np.choose(phantom.labels.array, [0, 2, 1]).astype(np.uint8)
    report = check_result(phantom.ct, swapped, NAMES)
    joint = report.get("joint")
    assert joint.status is Status.FAIL
    assert "below" in joint.message


def test_an_empty_result_is_no_knee_found() -> None:
    p = generate_phantom(0, shape_zyx=(32, 64, 64))
    report = check_result(p.ct, np.zeros(p.ct.shape, np.uint8), NAMES)
    assert report.status is Status.FAIL
    assert report.checks[0].check_id == "knee_found"
    assert report.checks[0].message.startswith("No knee found")


def test_labels_discarded_for_want_of_a_knee_joint_say_why() -> None:
    p = generate_phantom(0, shape_zyx=(32, 64, 64))
    reason = "a femur without a tibia (no knee joint)"
    report = check_result(p.ct, np.zeros(p.ct.shape, np.uint8), NAMES, no_knee=reason)
    found = report.get("knee_found")
    assert found.status is Status.FAIL and found.details["discarded_because"] == reason
    assert f"the network marked bone, but {reason}, so its labels were discarded" in found.message


def test_only_one_bone_is_no_knee_found(phantom) -> None:
    femur_only = np.where(phantom.labels.array == 1, 1, 0).astype(np.uint8)
    report = check_result(phantom.ct, femur_only, NAMES)
    assert _status(report, "knee_found") is Status.FAIL
    assert "only the femur" in report.get("knee_found").message


def test_labelled_soft_tissue_fails_density() -> None:
    p = generate_phantom(0, shape_zyx=(48, 96, 96), with_tissues=True)
    muscle = p.tissues.array == 4
    labels = np.zeros(p.ct.shape, np.uint8)
    z_half = p.ct.shape[0] // 2
    labels[z_half:][muscle[z_half:]] = 1
    labels[:z_half][muscle[:z_half]] = 2
    report = check_result(p.ct, labels, NAMES)
    assert _status(report, "density") is Status.FAIL
    assert "dense bone" in report.get("density").message


def test_a_head_sized_bone_fails_volume() -> None:
    """A label as wide as a brain (about 150 cm^2 per slice) is no knee bone."""
    ct = Volume(np.full((40, 200, 200), 1000, np.int16), (1.0, 1.0, 1.0))
    labels = np.zeros(ct.shape, np.uint8)
    labels[20:40, 30:170, 30:170] = 1
    labels[0:20, 80:120, 80:120] = 2
    report = check_result(ct, labels, NAMES)
    assert _status(report, "volume") is Status.FAIL


def test_bone_at_the_image_border_warns(phantom) -> None:
    labels = phantom.labels.array
    z = int(_bone_slices(labels, 2)[len(_bone_slices(labels, 2)) // 2])
    row = int(np.flatnonzero((labels[z] == 2).any(axis=1)).mean())
    ct = phantom.ct.with_array(phantom.ct.array[:, row:, :].copy(), spacing_zyx=phantom.ct.spacing_zyx)
    report = check_result(ct, labels[:, row:, :].copy(), NAMES)
    edge = report.get("image_edge")
    assert edge.status is Status.WARN
    assert z in edge.slices
    assert "cut off" in edge.message


def test_a_loose_fragment_in_the_leg_warns_about_pieces() -> None:
    p = generate_phantom(0, shape_zyx=(64, 128, 128), with_tissues=True)
    from scipy import ndimage

    far_from_bone = ndimage.distance_transform_edt(p.tissues.array < 10) > 8
    candidates = np.argwhere((p.tissues.array == 4) & far_from_bone)
    z, y, x = candidates[len(candidates) // 2]
    half = max(2, int(np.ceil((2000.0 / np.prod(p.ct.spacing_zyx)) ** (1 / 3) / 2)))
    labels = p.labels.array.copy()
    labels[max(z - half, 0) : z + half, y - half : y + half, x - half : x + half] = 2
    report = check_result(p.ct, labels, NAMES)
    pieces = report.get("components")
    assert pieces.status is Status.WARN
    assert "loose piece" in pieces.message
    assert int(z) in pieces.slices


def test_confidence_is_judged_from_the_probability_map(phantom) -> None:
    sure = np.full(phantom.ct.shape, 255, np.uint8)
    report = check_result(phantom.ct, phantom.labels, NAMES, top_probability=sure)
    assert _status(report, "confidence") is Status.PASS
    unsure = top_probability_bytes(np.where(phantom.labels.array > 0, 0.5, 1.0))
    report = check_result(phantom.ct, phantom.labels, NAMES, top_probability=unsure)
    confidence = report.get("confidence")
    assert confidence.status is Status.FAIL
    assert confidence.details["low_confidence_ml"] == pytest.approx(
        np.count_nonzero(phantom.labels.array) * phantom.ct.voxel_volume_ml, rel=1e-3
    )
    assert confidence.slices


def test_without_probabilities_confidence_says_not_recorded(phantom) -> None:
    report = check_result(phantom.ct, phantom.labels, NAMES)
    assert report.get("confidence").details == {"recorded": False}


def test_a_label_map_on_another_grid_is_a_programming_error(phantom) -> None:
    with pytest.raises(ValueError):
        check_result(phantom.ct, np.zeros((2, 2, 2), np.uint8), NAMES)


def test_flagged_slices_and_ranges_for_people() -> None:
    assert slice_ranges([5, 3, 4, 9, 11, 10, 20]) == "4-6, 10-12, 21"  # numbers as the window counts them
    assert slice_ranges([]) == ""


def _sagittal(phantom) -> tuple[Volume, np.ndarray]:
    """The phantom as a sagittal acquisition: slices run left-right, image rows head-feet."""
    sz, sy, sx = phantom.ct.spacing_zyx
    columns_p, rows_s, slices_l = [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]
    direction = np.array([columns_p, rows_s, slices_l]).T
    ct = Volume(np.transpose(phantom.ct.array, (2, 0, 1)), (sx, sz, sy), phantom.ct.origin_xyz, direction)
    return ct, np.transpose(phantom.labels.array, (2, 0, 1))


def test_a_sagittal_acquisition_of_both_legs_passes(phantom) -> None:
    ct, labels = _sagittal(phantom)
    report = check_result(ct, labels, NAMES)
    assert report.status is Status.PASS, [c.message for c in report.checks if c.status is not Status.PASS]


def test_in_a_sagittal_acquisition_a_missing_band_is_found_along_the_body_axis(phantom) -> None:
    ct, labels = _sagittal(phantom)
    labels = labels.copy()
    rows = np.flatnonzero((labels == 1).any(axis=(0, 2)))
    band = slice(int(rows[len(rows) // 2]), int(rows[len(rows) // 2]) + 3)
    labels[:, band][labels[:, band] == 1] = 0
    continuity = check_result(ct, labels, NAMES).get("continuity")
    assert continuity.status is Status.FAIL
    assert "image row(s)" in continuity.message and continuity.slices == ()
