"""Planning aids for custom knee prostheses: landmarks, axes, sizes and a report (Qt-free)."""

from kneeseg_app.core.planning.compute import plan_labels
from kneeseg_app.core.planning.model import BonePlan, Finding, KneePlan, Plan

__all__ = ["BonePlan", "Finding", "KneePlan", "Plan", "plan_labels"]
