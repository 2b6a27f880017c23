"""plan.json keeps what a person measured on the bones next to the plan's own values."""

from __future__ import annotations

import pytest

from kneeseg_app.core.planning.serialize import user_measurement_dict


def test_a_distance_is_saved_in_mm_with_its_points_and_snapped_landmarks() -> None:
    entry = user_measurement_dict("distance", 41.23456, [(1.0, 2.0, 3.0), (4.0, 5.0, 6.0)], ["epicondyle_medial", ""])
    assert entry == {
        "kind": "distance",
        "value": 41.235,
        "unit": "mm",
        "points_lps": [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]],
        "landmarks": ["epicondyle_medial", ""],
    }


@pytest.mark.parametrize(
    ("kind", "points", "landmarks"),
    [("area", [(0, 0, 0)], [""]), ("distance", [(0, 0, 0), (1, 1, 1)], [""])],
)
def test_an_unknown_kind_or_a_landmark_list_that_does_not_match_the_points_is_refused(kind, points, landmarks) -> None:
    with pytest.raises(ValueError):
        user_measurement_dict(kind, 1.0, points, landmarks)
