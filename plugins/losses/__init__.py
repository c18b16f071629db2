"""Built-in losses. Each is an ``nn.Module`` called as ``loss(prediction, target, weight)``.

``prediction`` and ``target`` are (B, K, ...) tensors (coordinates, 1-D distributions, heatmaps or
masks) and ``weight`` is the (B, K) keypoint visibility; every loss returns the visibility-weighted
mean over keypoints of a per-keypoint loss, a scalar tensor.
"""
