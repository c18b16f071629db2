"""Datasets: samples, image reading, loaders, the synthetic pelvis phantom, validation and splits."""

from hipbench.data.sample import HIP_LABELS, Sample, box_from_points

__all__ = ["HIP_LABELS", "Sample", "box_from_points"]
