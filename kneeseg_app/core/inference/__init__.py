"""Segmentation of a Volume with an ONNX model package: nnU-Net-faithful maths and the Segmenter."""
