"""The folder named in ``nnUNet_extTrainer`` so nnU-Net finds KneeSeg's trainer classes."""
