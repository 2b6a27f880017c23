"""Checks that tell a user when a result (or its input) should not be trusted.

* :mod:`.input` refuses inputs that are not knee CT before any work (raises).
* :mod:`.result` judges a finished segmentation without a reference (never raises).
* :mod:`.report` writes both, with the run's facts, as the JSON report of ``kneeseg segment --report``.
"""

from kneeseg_app.core.checks.outcome import CheckResult, QualityReport, Status
from kneeseg_app.core.checks.result import CHECK_ORDER, check_result, summary_line

__all__ = ["CHECK_ORDER", "CheckResult", "QualityReport", "Status", "check_result", "summary_line"]
