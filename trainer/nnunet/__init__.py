"""nnU-Net v2: environment, worker process, trainer classes and the plan/train pipeline."""
