"""KneeSeg: femur and tibia segmentation in knee CT (not for clinical use)."""

__version__ = "0.1.0"
