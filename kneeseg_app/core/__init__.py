"""Headless core of KneeSeg: volumes, DICOM, inference, metrics.

Imports numpy, scipy, SimpleITK, pydicom and onnxruntime only: never Qt, torch,
nnU-Net or the trainer package (enforced by tests/core/test_import_boundary.py).
"""
