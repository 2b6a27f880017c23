"""The rules written into plan.json: a medial and a lateral value are found by one rule, named for its side."""

from __future__ import annotations

import pytest

from kneeseg_app.core.planning.methods import AXES, LANDMARKS, MEASURES

TWINS = [
    (LANDMARKS["femur"], "distal_{side}"),
    (LANDMARKS["femur"], "posterior_{side}"),
    (LANDMARKS["tibia"], "plateau_{side}"),
    (LANDMARKS["tibia"], "plateau_lowest_{side}"),
    (LANDMARKS["tibia"], "eminence_{side}"),
    (MEASURES, "slope_{side}_deg"),
    (MEASURES, "joint_space_{side}_mm"),
]


@pytest.mark.parametrize(("table", "key"), TWINS, ids=[key for _, key in TWINS])
def test_the_lateral_rule_is_the_medial_one_for_the_other_side_and_follows_it(table: dict, key: str) -> None:
    medial, lateral = key.format(side="medial"), key.format(side="lateral")
    names = list(table)
    assert names.index(lateral) == names.index(medial) + 1
    assert str(table[lateral]) == str(table[medial]).replace("medial", "lateral")
    assert "lateral" not in str(table[medial])


def test_every_value_has_a_rule_in_words_and_every_measure_a_unit() -> None:
    for bone in ("femur", "tibia"):
        assert all(isinstance(rule, str) and len(rule) > 20 for rule in LANDMARKS[bone].values())
        assert all(isinstance(rule, str) and len(rule) > 20 for rule in AXES[bone].values())
    assert {unit for unit, _ in MEASURES.values()} == {"mm", "deg"}
    assert all(len(rule) > 20 for _, rule in MEASURES.values())
