"""DICOM CT loading: scan a folder for series (headers only), read the chosen one.

The public face of ``headers`` (one file's header; ``frames``: one per frame of an
Enhanced CT), ``scan`` (grouping and ranking; ``classify``: what a non-volume is),
``geometry`` (true slice positions to a regular grid), ``gaps`` (the one rule for
missing slices), ``pixels`` (checked decoding to HU) and ``read`` (all of it)::

    result = scan_folder(folder)          # fast: no pixel data
    volume = read_series(result.best())   # HU, LPS, resampled with a warning if needed
    volume = read_series(info, allow_gaps=True)   # fill missing slices (recorded in volume.dicom.filled_gaps)

Importing the package routes pydicom's own warnings to KneeSeg's debug log (``elements``).
"""

from __future__ import annotations

from kneeseg_app.core.dicom.elements import route_pydicom_messages
from kneeseg_app.core.dicom.headers import SliceHeader
from kneeseg_app.core.dicom.read import read_series
from kneeseg_app.core.dicom.scan import ScanResult, SeriesInfo, scan_folder

route_pydicom_messages()

__all__ = ["ScanResult", "SeriesInfo", "SliceHeader", "read_series", "scan_folder"]
