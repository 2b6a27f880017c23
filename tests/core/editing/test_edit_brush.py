"""Brush and eraser: exactly the voxels within the radius (mm), limited by HU range and draw-over."""

from __future__ import annotations

import numpy as np
import pytest

from kneeseg_app.core.editing import BrushShape, DrawOver, LabelEditor, PaintScope

SPACING = (3.0, 0.5, 0.8)  # anisotropic: thick slices, non-square pixels


def lattice_disk(radius: float, su: float, sv: float) -> set[tuple[int, int]]:
    """Offsets (du, dv) whose centres lie within ``radius`` mm: the analytical disk."""
    nu, nv = int(radius / su) + 1, int(radius / sv) + 1
    return {
        (du, dv)
        for du in range(-nu, nu + 1)
        for dv in range(-nv, nv + 1)
        if (du * su) ** 2 + (dv * sv) ** 2 <= radius**2
    }


def editor(shape=(12, 80, 80), ct=None) -> LabelEditor:
    return LabelEditor(np.zeros(shape, dtype=np.uint8), SPACING, ct=ct)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_a_click_paints_exactly_the_disk_of_its_radius_in_mm_on_anisotropic_spacing(axis: int) -> None:
    ed = editor(shape=(40, 80, 80))
    centre = (20, 40, 40)
    radius = 4.2
    stroke = ed.begin_stroke(BrushShape(radius, axis=axis), value=1)
    stroke.add(centre)
    assert ed.finish_stroke() == len(lattice_disk(radius, *[s for a, s in enumerate(SPACING) if a != axis]))
    painted = np.argwhere(ed.labels == 1)
    assert set(painted[:, axis]) == {centre[axis]}
    plane_axes = [a for a in range(3) if a != axis]
    offsets = {tuple(int(p[a] - centre[a]) for a in plane_axes) for p in painted}
    assert offsets == lattice_disk(radius, *[SPACING[a] for a in plane_axes])


def test_the_disk_area_matches_pi_r_squared() -> None:
    ed = editor(shape=(3, 200, 200))
    ed.begin_stroke(BrushShape(20.0, axis=0), value=1).add((1, 100, 100))
    area = np.count_nonzero(ed.labels) * SPACING[1] * SPACING[2]
    assert area == pytest.approx(np.pi * 20.0**2, rel=0.01)


def test_a_3d_click_paints_the_sphere_of_its_radius() -> None:
    ed = editor(shape=(20, 60, 60))
    ed.begin_stroke(BrushShape(7.0, axis=None), value=2).add((10, 30, 30))
    z, y, x = np.nonzero(ed.labels == 2)
    dist2 = ((z - 10) * SPACING[0]) ** 2 + ((y - 30) * SPACING[1]) ** 2 + ((x - 30) * SPACING[2]) ** 2
    assert dist2.max() <= 49.0
    assert set(z) == {8, 9, 10, 11, 12}  # 7 mm reaches two 3 mm slices each way
    grid = np.indices((20, 60, 60))
    all_dist2 = sum(((g - c) * s) ** 2 for g, c, s in zip(grid, (10, 30, 30), SPACING))
    assert np.count_nonzero(ed.labels) == np.count_nonzero(all_dist2 <= 49.0)


def test_a_drag_paints_the_band_along_its_path_and_is_one_undo_step() -> None:
    ed = editor()
    stroke = ed.begin_stroke(BrushShape(1.0, axis=0), value=1)
    for x in (10, 30, 50):
        stroke.add((5, 40, x))
    ed.finish_stroke()
    row = ed.labels[5, 40]
    assert row[10:51].all() and not row[:9].any() and not row[52:].any()
    assert ed.labels[5, 37:44, 30].tolist() == [0, 1, 1, 1, 1, 1, 0]  # 1 mm reaches 2 rows of 0.5 mm each way
    assert ed.history.undo_count == 1
    ed.undo()
    assert not ed.labels.any()


def test_a_2d_drag_stays_in_the_slice_it_started_in() -> None:
    ed = editor()
    stroke = ed.begin_stroke(BrushShape(2.0, axis=0), value=1)
    stroke.add((5, 40, 10))
    stroke.add((7.4, 40, 30))
    assert set(np.nonzero(ed.labels)[0]) == {5}


def test_a_brush_smaller_than_a_voxel_still_paints_the_voxel_under_the_pointer() -> None:
    ed = editor()
    ed.begin_stroke(BrushShape(0.1, axis=0), value=1).add((4, 10.2, 20.4))
    assert np.argwhere(ed.labels).tolist() == [[4, 10, 20]]


def test_painting_only_over_an_hu_range_follows_the_bone() -> None:
    ct = np.full((12, 80, 80), 40.0, dtype=np.float32)
    ct[:, :, 40:] = 700.0  # bone on the right half
    ed = editor(ct=ct)
    ed.begin_stroke(BrushShape(5.0, axis=0), 1, PaintScope(hu_range=(200.0, 3000.0))).add((6, 40, 40))
    painted = ed.labels[6] == 1
    assert painted.any() and not painted[:, :40].any()
    unlimited = lattice_disk(5.0, SPACING[1], SPACING[2])
    assert np.count_nonzero(painted) == sum(1 for du, dv in unlimited if dv >= 0)


def test_draw_over_background_never_eats_the_other_bone() -> None:
    model = np.zeros((12, 80, 80), dtype=np.uint8)
    model[:, :, 40:] = 2
    ed = LabelEditor(model, SPACING)
    ed.begin_stroke(BrushShape(5.0, axis=0), 1, PaintScope(draw_over=DrawOver.BACKGROUND)).add((6, 40, 40))
    assert (ed.labels[:, :, 40:] == 2).all()
    assert np.count_nonzero(ed.labels == 1) > 0


def test_draw_over_one_label_changes_only_that_label() -> None:
    model = np.zeros((12, 80, 80), dtype=np.uint8)
    model[:, :40, :] = 2
    model[:, 40:, :40] = 3
    ed = LabelEditor(model, SPACING)
    ed.begin_stroke(BrushShape(6.0, axis=0), 1, PaintScope(draw_over=DrawOver.LABEL, over_label=3)).add((6, 40, 40))
    changed = ed.labels != model
    assert changed.any()
    assert (model[changed] == 3).all()


def test_the_eraser_clears_every_label_under_it_and_nothing_else() -> None:
    model = np.zeros((12, 80, 80), dtype=np.uint8)
    model[6, 20:60, 20:40] = 1
    model[6, 20:60, 40:60] = 2
    ed = LabelEditor(model, SPACING)
    ed.begin_stroke(BrushShape(3.0, axis=0), value=0).add((6, 40, 40))
    erased = (model != 0) & (ed.labels == 0)
    offsets = {(int(y) - 40, int(x) - 40) for y, x in np.argwhere(erased[6])}
    assert offsets == lattice_disk(3.0, SPACING[1], SPACING[2])
    assert (ed.labels[model == 0] == 0).all()


def test_the_eraser_limited_to_one_label_keeps_the_other_bone() -> None:
    model = np.zeros((12, 80, 80), dtype=np.uint8)
    model[6, 20:60, 20:40] = 1
    model[6, 20:60, 40:60] = 2
    ed = LabelEditor(model, SPACING)
    ed.begin_stroke(BrushShape(3.0, axis=0), 0, PaintScope(draw_over=DrawOver.LABEL, over_label=2)).add((6, 40, 40))
    assert (ed.labels[model == 1] == 1).all()
    assert np.count_nonzero((model == 2) & (ed.labels == 0)) > 0


def test_a_stroke_outside_the_image_changes_nothing() -> None:
    ed = editor()
    ed.begin_stroke(BrushShape(2.0, axis=0), value=1).add((6, -50, -50))
    assert ed.finish_stroke() == 0
    assert ed.history.undo_count == 0 and not ed.changed_since_model
