"""Planning anatomy of the distal femur: the posterior condylar twist and the medial sulcus.

Two features real femurs have and the classic shape lacks, both off unless pinned on
(:func:`with_planning_anatomy`), so every classic and wide draw stays bit for bit as before:

* medial epicondylar sulcus (``KneeShape.sulcus``): a Gaussian dent in the medial surface,
  behind and below the medial epicondyle's prominence (the middle of the metaphyseal flare's
  widest part): the surgical TEA's medial end;
* posterior condylar twist: the front of the flare (metaphysis and epicondyles) is sheared
  about the shaft against the condyles (lateral epicondyle back, medial forward; its back, which
  lies just in front of the posterior condyles, stays), so that the TEA planning uses (the
  surgical one when there is a sulcus, else the clinical one) makes
  ``KneeShape.posterior_condylar_angle_deg`` with the posterior condylar axis: against that TEA
  the medial posterior condyle reaches further back.

Coordinates are the femur frame's (u lateral, v posterior, w superior, mm); the flare's own
(``lu``, ``lv``) are the femur's with the twist undone.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from kneeseg_app.core.phantom.params import EpicondylarSulcus, KneeShape, PhantomParams

Array = np.ndarray
Body = Callable[[Array, Array, Array], Array]
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
PCA_DEG = (0.0, 6.0, 3.0)
"""Drawn posterior condylar angle: low, high, mode (deg)."""


def active(k: KneeShape) -> bool:
    return k.sulcus is not None or k.posterior_condylar_angle_deg != 0.0


def flare_centre_v(w: Array | float, k: KneeShape) -> Array:
    """Antero-posterior centre of the metaphyseal flare at height ``w`` (as the shape draws it)."""
    r = k.cond_radius
    return np.interp(w, [r, r + 30, r + 70], [-6.0, -10.0, -13.0 * k.scale]).astype(np.float32)


def prominence(k: KneeShape) -> tuple[float, float]:
    """(lv, w) of the epicondyles' prominences: the middle of the flare's widest part."""
    w = k.cond_radius + 10.0 * k.scale
    return float(flare_centre_v(w, k)), w


def sulcus_position(k: KneeShape) -> tuple[float, float]:
    """(lv, w) of the sulcus centre."""
    assert k.sulcus is not None
    lv, w = prominence(k)
    return lv + k.sulcus.posterior_mm, w - k.sulcus.distal_mm


def _back_share(v: Array | float, vc: Array | float, k: KneeShape) -> Array:
    """How much of the twist a flare point at ``v`` takes: all of it up to 30 % of the flare's depth
    behind its centre line (the epicondyles, the sulcus), none on its back, which stays in front of
    the posterior condyles as in the classic shape."""
    b = 0.64 * k.epicondyle_half_width
    t = np.clip((np.asarray(v, dtype=np.float32) - vc - np.float32(0.3 * b)) / np.float32(0.6 * b), 0.0, 1.0)
    return 1.0 - t * t * (3.0 - 2.0 * t)


def _medial_u(k: KneeShape, lv: float) -> float:
    """The undented flare's medial surface at flare depth ``lv`` (its ellipse)."""
    e, b = k.epicondyle_half_width, 0.64 * k.epicondyle_half_width
    lv_p, _ = prominence(k)
    return -e * math.sqrt(max(1.0 - ((lv - lv_p) / b) ** 2, 0.0))


@functools.lru_cache(maxsize=64)
def flare_shear(k: KneeShape) -> float:
    """The twist as a shear (mm of posterior shift per mm lateral) that gives the drawn angle.

    The flare's front turns about the shaft (lateral epicondyle back, medial forward) while its
    back stays put. Without a sulcus the clinical TEA (prominence to prominence) makes the
    drawn angle with the condyles; with one, the surgical TEA (lateral prominence to the sulcus,
    which lies behind the medial prominence) does.
    """
    tangent = math.tan(math.radians(k.posterior_condylar_angle_deg))
    if k.sulcus is None:
        return tangent
    e = k.epicondyle_half_width
    lv_s, _ = sulcus_position(k)
    u_s = _medial_u(k, lv_s) + k.sulcus.depth_mm
    # both ends take the whole shear: tan(angle) = shear - posterior_mm / (e - u_s)
    return tangent + k.sulcus.posterior_mm / (e - u_s)


def _femur_v(lu: Array | float, lv: float, w: float, k: KneeShape, shear: float) -> Array:
    """Femur v of the flare point (lu, lv) at height w: v = lv + shear * lu * share(v), solved."""
    vc = flare_centre_v(w, k)
    v = np.asarray(lv + shear * np.asarray(lu, dtype=np.float64), dtype=np.float64)
    for _ in range(12):
        v = lv + shear * np.asarray(lu, dtype=np.float64) * _back_share(v, vc, k)
    return v


def flare_coords(u: Array, v: Array, w: Array, k: KneeShape) -> tuple[Array, Array]:
    """The femur's (u, v) in the flare's own untwisted frame (where its epicondyles lie on lv = centre)."""
    shear = np.float32(flare_shear(k))
    return u, v - shear * u * _back_share(v, flare_centre_v(w, k), k)


def flare_to_femur(lu: Array, lv: float, w: float, k: KneeShape) -> tuple[Array, Array]:
    """Inverse of :func:`flare_coords` at one (lv, w): femur (u, v) of flare positions ``lu``."""
    return np.asarray(lu, dtype=np.float64), _femur_v(lu, lv, w, k, flare_shear(k))


def surface_point(k: KneeShape, body: Body, lv: float, w: float, medial: bool) -> np.ndarray:
    """Where the line along the flare's lu axis at (lv, w) enters ``body`` from outside (femur u, v, w)."""
    e = k.epicondyle_half_width
    lus = np.arange(e + 12.0, e - 12.0, -0.01)
    if medial:
        lus = -lus
    us, vs = flare_to_femur(lus, lv, w, k)
    values = body(us.astype(np.float32), vs.astype(np.float32), np.full(len(us), w, np.float32))
    inside = np.flatnonzero(values < 0)
    first = int(inside[0]) if len(inside) else len(lus) // 2
    return np.array([us[first], vs[first], w])


def features(u: Array, v: Array, w: Array, k: KneeShape, body: Body) -> Array:
    """What the sulcus adds to the femur's implicit function ``body(u, v, w)`` (a dent: positive)."""
    out = np.zeros(np.broadcast(u, v, w).shape, np.float32)
    if k.sulcus is None:
        return out
    centre = surface_point(k, body, *sulcus_position(k), medial=True)
    sigma = k.sulcus.width_mm / FWHM_PER_SIGMA
    d2 = (u - np.float32(centre[0])) ** 2 + (v - np.float32(centre[1])) ** 2 + (w - np.float32(centre[2])) ** 2
    out += k.sulcus.depth_mm * np.exp(d2 * np.float32(-0.5 / sigma**2))
    return out


def design_points(k: KneeShape, body: Body) -> dict[str, np.ndarray]:
    """The drawn epicondyles' prominences and the sulcus floor on the final surface (femur u, v, w;
    ``body`` = the whole femur)."""
    lv_p, w_p = prominence(k)
    out = {
        "prominence_medial": surface_point(k, body, lv_p, w_p, medial=True),
        "prominence_lateral": surface_point(k, body, lv_p, w_p, medial=False),
    }
    if k.sulcus is not None:
        out["sulcus"] = surface_point(k, body, *sulcus_position(k), medial=True)
    return out


def draw_planning_anatomy(rng: np.random.Generator) -> tuple[float, EpicondylarSulcus]:
    """A posterior condylar angle and a sulcus from realistic ranges."""
    angle = float(rng.triangular(PCA_DEG[0], PCA_DEG[2], PCA_DEG[1]))
    sulcus = EpicondylarSulcus(
        posterior_mm=float(rng.uniform(2.0, 5.0)),
        distal_mm=float(rng.uniform(1.0, 4.0)),
        depth_mm=float(rng.uniform(1.0, 2.0)),
        width_mm=float(rng.uniform(3.0, 6.0)),
    )
    return angle, sulcus


def with_planning_anatomy(params: PhantomParams, *, sulcus: bool = True, twist: bool = True) -> PhantomParams:
    """``params`` with a drawn sulcus and posterior condylar angle in every leg.

    Drawn from their own stream (the seed and 15), so nothing else about the phantom moves;
    ``sulcus=False`` leaves the sulcus out, ``twist=False`` pins the angle to 0.
    """
    rng = np.random.default_rng([params.seed, 15])
    legs = []
    for leg in params.legs:
        angle, drawn = draw_planning_anatomy(rng)
        shape = replace(
            leg.shape,
            posterior_condylar_angle_deg=angle if twist else 0.0,
            sulcus=drawn if sulcus else None,
        )
        legs.append(replace(leg, shape=shape))
    return replace(params, legs=tuple(legs))
