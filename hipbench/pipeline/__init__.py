"""The top-down pipeline: hip boxes -> square crops -> unilateral keypoints -> full-image points."""

from hipbench.pipeline.crops import CropSet, crop_affine, make_crops, points_to_full_image

__all__ = ["CropSet", "crop_affine", "make_crops", "points_to_full_image"]
