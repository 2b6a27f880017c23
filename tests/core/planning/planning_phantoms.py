"""Small phantom knees for the planning tests (0.7 x 0.7 x 1.0 mm voxels)."""

from __future__ import annotations

from dataclasses import replace

from kneeseg_app.core.phantom import draw_params, render_phantom


def knee_phantom(
    seed: int, *, both: bool, oa: bool, flexion: float, rotation: float | None, size: int, coverage: float = 100.0
):
    """A phantom on a small grid (0.7 x 0.7 x 1.0 mm voxels, ``size`` pixels square)."""
    n_slices = int(2 * coverage) + 1
    params = draw_params(
        seed,
        shape_zyx=(n_slices, size, size),
        spacing_zyx=(1.0, 0.7, 0.7),
        osteoarthritis=oa,
        both_legs=both,
        flexion_deg=flexion,
        coverage_mm=(coverage, coverage),
    )
    if rotation is not None:
        params = replace(params, legs=tuple(replace(leg, axial_rotation_deg=rotation) for leg in params.legs))
    return render_phantom(params)
