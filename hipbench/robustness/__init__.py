"""The robustness suite: every trained cell re-evaluated on its own test fold under perturbations of the
radiograph (geometry, intensity, noise, resolution, compression) and of the hip boxes, at three severities,
with the truth moved exactly with the image; no retraining."""
