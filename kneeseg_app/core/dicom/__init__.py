"""DICOM CT loading: scan a folder for series (headers only), read the chosen one.

The public face of ``dicom_headers`` (one file's header), ``dicom_scan`` (grouping and
ranking), ``dicom_geometry`` (true slice positions to a regular grid) and
``dicom_read`` (pixels to HU)::

    result = scan_folder(folder)          # fast: no pixel data
    volume = read_series(result.best())   # HU, LPS, resampled with a warning if needed
"""

from __future__ import annotations

from kneeseg_app.core.dicom.elements import route_pydicom_messages
from kneeseg_app.core.dicom.headers import SliceHeader
from kneeseg_app.core.dicom.read import read_series
from kneeseg_app.core.dicom.scan import ScanResult, SeriesInfo, scan_folder

route_pydicom_messages()

__all__ = ["ScanResult", "SeriesInfo", "SliceHeader", "read_series", "scan_folder"]
