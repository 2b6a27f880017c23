"""The axis rows: every case pins what its axis names and leaves the rest neutral."""

from __future__ import annotations

from kneeseg_app.core.phantom.axes import AXES, NEUTRAL, axis_choices
from kneeseg_app.core.phantom.draw_wide import draw_wide_params


def test_every_case_of_every_axis_draws_and_differs_from_its_neighbours() -> None:
    for axis, cases in AXES.items():
        assert len(cases) >= 2, axis
        drawn = [draw_wide_params(5, axis_choices(axis, i)) for i in range(len(cases))]
        assert len({repr(p) for p in drawn}) == len(cases), f"{axis}: each case is a different phantom"


def test_a_row_varies_only_its_axis() -> None:
    flexed = [draw_wide_params(5, axis_choices("flexion", i)) for i in range(len(AXES["flexion"]))]
    assert {p.acquisition for p in flexed} == {flexed[0].acquisition}
    assert [p.legs[0].flexion_deg for p in flexed] == [0.0, 15.0, 30.0, 45.0]
    noisy = draw_wide_params(5, axis_choices("noise", 3))
    assert noisy.acquisition.noise_sd == 60.0 and noisy.legs[0].flexion_deg == NEUTRAL["flexion_deg"]
