"""Is a stack of DICOM headers an image volume, and if not, what is it (in words)?

Set-aside objects are named for what they are (a DICOM SEG, a dose report, a localizer)
from their SOP class, modality, image type and description; a stack is called a
localizer only when its headers say so, never for being a few non-axial slices (a
coronal cone-beam slice is not a scout).
"""

from __future__ import annotations

from kneeseg_app.core.dicom.headers import SliceHeader

SINGLE_SLICE_REASON = "a single slice is not a volume"

_SOP = "1.2.840.10008.5.1.4.1.1."
_NOT_IMAGE_SOP = (
    (_SOP + "66.4", "a DICOM SEG segmentation, not an image"),
    (_SOP + "88.67", "a radiation dose report, not an image"),
    (_SOP + "88.", "a structured report, not an image"),
    (_SOP + "481.3", "an RT structure set (contours), not an image"),
    (_SOP + "481.2", "an RT dose grid, not a CT image"),
    (_SOP + "11.", "a presentation state (display settings), not an image"),
    (_SOP + "104.", "an encapsulated document, not an image"),
    (_SOP + "7", "a secondary capture (screenshot), not an image volume"),
)
_NOT_IMAGE_MODALITY = {
    "SEG": "a DICOM SEG segmentation, not an image",
    "SR": "a structured report, not an image",
    "RTSTRUCT": "an RT structure set (contours), not an image",
    "RTDOSE": "an RT dose grid, not a CT image",
    "RTPLAN": "an RT plan, not an image",
    "PR": "a presentation state (display settings), not an image",
    "KO": "a key-object selection note, not an image",
    "REG": "a registration object, not an image",
    "DOC": "an encapsulated document, not an image",
}
_LOCALIZER_TYPES = ("LOCALIZER", "SCOUT", "TOPOGRAM", "SURVIEW")
_LOCALIZER_WORDS = ("topogram", "scout", "localizer", "localiser", "surview", "scanogram", "pilot")
_FEW_SLICES = 3
"""Up to this many non-axial slices are too few to be a volume (a scout pair, a cone-beam snapshot)."""


def not_volume_reason(headers: list[SliceHeader], orientation: str) -> str:
    """Why a stack is not an image volume, or '' when it is one."""
    first = headers[0]
    for prefix, reason in _NOT_IMAGE_SOP:
        if first.sop_class_uid.startswith(prefix):
            return reason
    if first.modality in _NOT_IMAGE_MODALITY:
        return _NOT_IMAGE_MODALITY[first.modality]
    types = " ".join(first.image_type)
    description = first.description.lower()
    if any(t in types for t in _LOCALIZER_TYPES) or any(w in description for w in _LOCALIZER_WORDS):
        return "a localizer (scout view), not a volume"
    if "SCREEN SAVE" in types:
        return "a secondary capture (screenshot), not an image volume"
    if "DOSE" in types or "dose report" in description or "dose info" in description:
        return "a radiation dose report, not an image"
    if not first.rows or not first.has_pixel_data:
        return "no image data"
    if first.number_of_frames > 1 and first.frame is None:
        return "a multi-frame object without a position for each frame"
    if first.position is None or first.orientation is None:
        return "no slice position or orientation in the headers"
    if len(headers) == 1:
        return SINGLE_SLICE_REASON
    if first.modality in ("CT", "") and not orientation.endswith("axial") and len(headers) <= _FEW_SLICES:
        return f"only {len(headers)} {orientation} slices, too few for a volume"
    return ""


def is_ct_storage(sop_class_uid: str) -> bool:
    """CT Image Storage, Enhanced CT or Legacy Converted Enhanced CT (the modality may be missing)."""
    return sop_class_uid in (_SOP + "2", _SOP + "2.1", _SOP + "2.2")
