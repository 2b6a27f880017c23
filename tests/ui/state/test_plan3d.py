"""What the 3D view draws of a plan: landmarks in their bone's colour, axes ending at their landmarks."""

from __future__ import annotations

import numpy as np

from kneeseg_app.core.planning import KneePlan, Plan
from kneeseg_app.core.planning.model import BonePlan, Finding
from kneeseg_app.core.planning.provenance import line_between
from kneeseg_app.ui.state.plan3d import BONE_COLOURS, plan_scene


def landmark(name: str, point) -> Finding:
    return Finding(name, "landmark", "by hand", point=np.asarray(point, float))


def knee(side: str, dx: float = 0.0) -> KneePlan:
    lat, med = landmark("epicondyle_lateral", [dx + 40, 0, 40]), landmark("epicondyle_medial", [dx - 40, 0, 40])
    pm, pl = landmark("posterior_medial", [dx - 20, 25, 20]), landmark("posterior_lateral", [dx + 20, 25, 20])
    missing = Finding("trochlear_groove", "landmark", "rule", status="not_found")
    femur = {f.name: f for f in (lat, med, pm, pl, missing)}
    femur["transepicondylar_axis"] = line_between("transepicondylar_axis", "femur", lat, med)
    femur["posterior_condylar_axis"] = line_between("posterior_condylar_axis", "femur", pm, pl)
    femur["femoral_shaft_axis"] = Finding(
        "femoral_shaft_axis", "axis", "fit", point=np.array([dx, 5.0, 120.0]), direction=np.array([0.0, 0.0, 1.0])
    )
    pmed, plat = landmark("plateau_medial", [dx - 20, 5, -5]), landmark("plateau_lateral", [dx + 20, 5, -5])
    tibia = {
        "plateau_medial": pmed,
        "plateau_lateral": plat,
        "plateau_plane_normal": Finding(
            "plateau_plane_normal", "axis", "fit", point=np.array([dx, 5.0, -5.0]), direction=np.array([0.0, 0.0, 1.0])
        ),
    }
    measures = {"tibia_ml_mm": Finding("tibia_ml_mm", "measure", "rule", value=76.0, unit="mm")}
    frame = (np.zeros(3), np.eye(3))  # lateral, posterior, superior = LPS axes
    bones = {"femur": BonePlan("femur", *frame, femur), "tibia": BonePlan("tibia", *frame, tibia)}
    return KneePlan(side, "fibula", "high", bones, measures)


def plan(*knees: KneePlan) -> Plan:
    return Plan(list(knees), "labels.nii.gz", "ct", (1.0, 1.0, 1.0), (10, 10, 10))


def test_no_plan_draws_nothing() -> None:
    scene = plan_scene(None)
    assert scene.markers == () and scene.lines == () and scene.marker_points().shape == (0, 3)


def test_found_landmarks_are_drawn_in_their_bones_colour_and_missing_ones_are_not() -> None:
    scene = plan_scene(plan(knee("right")))
    names = {m.name: m for m in scene.markers}
    assert "trochlear_groove" not in names
    assert (
        names["epicondyle_lateral"].colour == BONE_COLOURS["femur"]
        and names["plateau_medial"].colour == BONE_COLOURS["tibia"]
    )
    assert names["epicondyle_lateral"].label == "epicondyle lateral"  # one knee: no side prefix
    assert {m.label for m in plan_scene(plan(knee("right")), names=False).markers} == {""}
    np.testing.assert_allclose(names["posterior_medial"].point, [-20, 25, 20])


def test_with_two_knees_each_label_names_its_side() -> None:
    scene = plan_scene(plan(knee("right"), knee("left", dx=200.0)))
    labels = {m.label for m in scene.markers}
    assert "R epicondyle lateral" in labels and "L epicondyle lateral" in labels


def test_axes_between_landmarks_end_at_them_and_follow_a_dragged_landmark() -> None:
    k = knee("right")
    lines = {line.name: line for line in plan_scene(plan(k)).lines}
    np.testing.assert_allclose(lines["transepicondylar_axis"].points, [[40, 0, 40], [-40, 0, 40]])
    femur = k.bones["femur"].findings  # what core.planning.edit does when a landmark is dragged
    femur["epicondyle_medial"] = landmark("epicondyle_medial", [-45.0, 6.0, 38.0])
    femur["transepicondylar_axis"] = line_between(
        "transepicondylar_axis", "femur", femur["epicondyle_lateral"], femur["epicondyle_medial"]
    )
    lines = {line.name: line for line in plan_scene(plan(k)).lines}
    np.testing.assert_allclose(lines["transepicondylar_axis"].points, [[40, 0, 40], [-45, 6, 38]])


def test_another_line_between_two_landmarks_ends_at_the_one_it_points_at() -> None:
    k = knee("right")
    femur = k.bones["femur"].findings
    femur["surgical_tea"] = line_between(
        "surgical_tea", "femur", femur["epicondyle_lateral"], femur["posterior_medial"]
    )
    lines = {line.name: line for line in plan_scene(plan(k)).lines}
    np.testing.assert_allclose(lines["surgical_tea"].points, [[40, 0, 40], [-20, 25, 20]])


def test_a_shaft_axis_runs_from_beyond_its_fit_to_beyond_the_bones_landmarks() -> None:
    lines = {line.name: line for line in plan_scene(plan(knee("right"))).lines}
    shaft = lines["femoral_shaft_axis"].points
    np.testing.assert_allclose(shaft[:, :2], [[0, 5], [0, 5]])  # on the axis
    # landmarks go down to z = 20 (100 mm below the fit's centre at 120): 30 mm margin both ways
    np.testing.assert_allclose(sorted(shaft[:, 2]), [-10.0, 150.0])


def test_the_plateau_plane_is_an_outline_as_wide_as_the_tibia_and_a_normal() -> None:
    lines = {line.name: line for line in plan_scene(plan(knee("right"))).lines}
    ring = lines["plateau_outline"].points
    np.testing.assert_allclose(np.linalg.norm(ring - [0, 5, -5], axis=1), 38.0)  # tibia ML 76 mm
    np.testing.assert_allclose(ring[:, 2], -5.0, atol=1e-9)  # in the plane
    np.testing.assert_allclose(lines["plateau_plane_normal"].points, [[0, 5, -5], [0, 5, 25]])
