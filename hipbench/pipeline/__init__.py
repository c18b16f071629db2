"""The top-down pipeline: framings cut views (hip crops, whole images) -> keypoints -> full-image points."""

from hipbench.pipeline.views import ViewSet, crop_affine, make_crops, points_to_full_image

__all__ = ["ViewSet", "crop_affine", "make_crops", "points_to_full_image"]
