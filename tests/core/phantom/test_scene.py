"""Scene of wide phantoms: patient positions in LPS, the table in front of prone patients, tables and aids, cut legs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from kneeseg_app.core.phantom import render_phantom
from kneeseg_app.core.phantom.draw_wide import draw_wide_params
from kneeseg_app.core.phantom.variation import WideChoices

GRID = dict(shape_zyx=(16, 112, 112), spacing_zyx=(4.0, 2.0, 2.0))
KNEE = WideChoices(
    legs="one", off_centre=0.0, coverage_mm=(30.0, 30.0), implant="none", padding_hu=None, table="curved", aids=()
)


def render(seed: int = 4, **pins):
    return render_phantom(draw_wide_params(seed, replace(KNEE, **pins), **GRID), with_tissues=True)


def lps_centre(volume, mask: np.ndarray) -> np.ndarray:
    return volume.index_to_lps(np.argwhere(mask).mean(axis=0))


@pytest.mark.parametrize("position", ["HFS", "FFS", "HFP", "FFP"])
def test_every_position_keeps_the_patient_axes_in_lps(position: str) -> None:
    phantom = render(position=position)
    ct, labels, tissues = phantom.ct, phantom.labels.array, phantom.tissues.array
    femur, tibia = lps_centre(ct, labels == 1), lps_centre(ct, labels == 2)
    assert femur[2] > tibia[2] + 10, "the femur is superior (+z in LPS) whatever the position"
    patella = lps_centre(ct, (tissues >= 40) & (tissues < 50))
    assert patella[1] < femur[1], "the patella is anterior (-y)"
    table = lps_centre(ct, tissues == 1)
    prone = position.endswith("P")
    assert (table[1] < femur[1]) == prone, "the table is behind a supine patient and in front of a prone one"
    assert ct.dicom.patient_position == position
    rows_down = ct.direction[:, 1] @ np.array([0.0, 1.0, 0.0])
    assert (rows_down < 0) == prone


def test_image_arrays_follow_the_scanner_the_table_is_always_at_the_bottom() -> None:
    for position in ("HFS", "HFP"):
        tissues = render(position=position).tissues.array
        table_rows = np.nonzero((tissues == 1).any(axis=(0, 2)))[0]
        body_rows = np.nonzero((tissues == 3).any(axis=(0, 2)))[0]
        assert table_rows.mean() > body_rows.mean(), position


def test_table_designs_and_no_table() -> None:
    assert not (render(table="none").tissues.array == 1).any()
    flat = render(table="flat").tissues.array == 1
    curved = render(table="curved").tissues.array == 1
    assert flat.any() and curved.any()
    rows_flat = np.nonzero(flat[0].any(axis=1))[0]
    assert rows_flat.size < np.nonzero(curved[0].any(axis=1))[0].size + 3, "a flat table is a straight slab"


def test_a_gel_pad_under_the_legs_is_soft_tissue_bright() -> None:
    phantom = render(aids=("gel",), table="flat", noise_sd=5.0)
    pad = phantom.params.extras.aids[0]
    assert pad.kind == "gel" and 0 <= pad.hu <= 90
    aid_pixels = (phantom.tissues.array == 1) & (np.abs(phantom.ct.array - pad.hu) < 40)
    assert aid_pixels.sum() > 50, "the gel pad shows up with near-water HU on the table"
    assert not phantom.labels.array[aid_pixels].any()


def test_a_calibration_phantom_has_bone_like_rods_and_no_labels() -> None:
    phantom = render(aids=("qct",), noise_sd=5.0)
    qct = phantom.params.extras.aids[0]
    assert qct.kind == "qct" and len(qct.inserts) >= 3 and max(qct.inserts) >= 200
    without = render(aids=(), noise_sd=5.0)
    table = phantom.tissues.array == 1

    def bright(p) -> int:
        return int((p.ct.array[p.tissues.array == 1] > 150).sum())

    assert bright(phantom) > bright(without) + 20, "the dense rods look like bone"
    assert not phantom.labels.array[table].any()


def test_a_knee_near_the_edge_is_cut_by_the_reconstruction_circle() -> None:
    phantom = render(off_centre=0.75, padding_hu=-3024, legs="one")
    outside = phantom.ct.array == -3024
    assert outside.any()
    body = (phantom.tissues.array >= 2) & (phantom.tissues.array != 1)
    assert (body & outside).any(), "part of the leg lies outside the circle"
    assert not phantom.labels.array[outside].any(), "nothing is labelled where nothing was reconstructed"


@pytest.mark.parametrize("position", ["FFS", "HFP", "FFP"])
def test_positions_survive_a_dicom_round_trip(position: str, tmp_path) -> None:
    from kneeseg_app.core.dicom import read_series, scan_folder
    from kneeseg_app.core.dicom.write import write_dicom_series

    phantom = render(position=position)
    write_dicom_series(
        phantom.ct, tmp_path / "s", series_description="wide", patient_name="P", patient_id="P", seed=1, kernel="K"
    )
    volume = read_series(scan_folder(tmp_path).series[0])
    assert np.array_equal(volume.array, phantom.ct.array)
    assert np.allclose(volume.direction, phantom.ct.direction) and np.allclose(volume.origin_xyz, phantom.ct.origin_xyz)
    assert volume.dicom.patient_position == position
