"""Closed, smooth bone surface meshes from a label map, for prosthesis design (CAD) tools.

Pipeline per bone (all numpy/scipy, plus ``fast-simplification`` for decimation):

1. crop the bone's voxels to their bounding box with an empty border, so a bone cut by
   the edge of the scan still gives a closed surface (a flat cap at the cut);
2. blur the binary mask a little (Gaussian, ``sigma`` in voxels per axis) to remove the
   staircase of the voxel grid without moving the 0.5 level on flat walls;
3. extract the 0.5 iso-surface with marching tetrahedra: it has no ambiguous cases, so the
   surface is always closed, 2-manifold and consistently oriented (outward normals);
4. Taubin lambda/mu smoothing (a low-pass filter that does not shrink the bone, unlike
   plain Laplacian smoothing);
5. quadric-error decimation to ``target_triangles`` (a size a CAD tool opens quickly),
   kept only when the result is still closed and manifold.

Coordinates: **LPS, millimetres** (DICOM patient coordinates), the full direction matrix
of the image applied. This is what 3D Slicer (>= 4.11) writes and expects by default; the
files say so in their header (``SPACE=LPS``, Slicer's own tag), so Slicer overlays the
meshes on the CT without any flip. Faces are counter-clockwise seen from outside.

Accuracy reference (see :func:`surface_deviation`): the label map's boundary is the 0.5
iso-surface of the *binary* mask, linearly interpolated, i.e. the surface through the
mid-points between each bone voxel centre and its non-bone neighbours.
"""

from kneeseg_app.core.mesh.cleanup import decimate, taubin_smooth
from kneeseg_app.core.mesh.deviation import SurfaceDeviation, surface_deviation
from kneeseg_app.core.mesh.export import (
    DEFAULT_BLUR_VOXELS,
    DEFAULT_SMOOTHING_ITERATIONS,
    DEFAULT_TARGET_TRIANGLES,
    bone_mesh,
    bone_meshes,
    export_meshes,
)
from kneeseg_app.core.mesh.extract import marching_tetrahedra
from kneeseg_app.core.mesh.formats import MESH_FORMATS, SPACE_TAG, write_mesh
from kneeseg_app.core.mesh.surface import Mesh, is_closed_manifold

__all__ = [
    "DEFAULT_BLUR_VOXELS",
    "DEFAULT_SMOOTHING_ITERATIONS",
    "DEFAULT_TARGET_TRIANGLES",
    "MESH_FORMATS",
    "SPACE_TAG",
    "Mesh",
    "SurfaceDeviation",
    "bone_mesh",
    "bone_meshes",
    "decimate",
    "export_meshes",
    "is_closed_manifold",
    "marching_tetrahedra",
    "surface_deviation",
    "taubin_smooth",
    "write_mesh",
]
