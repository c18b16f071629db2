"""``heatmap_mse``: mean squared error over each keypoint's heatmap, weighted by visibility."""

from __future__ import annotations

import torch

from hipbench_plugins.losses.base import KeypointLoss


class HeatmapMSELoss(KeypointLoss):
    """Per-keypoint mean squared error over (B, K, H, W) heatmaps, visibility-weighted over keypoints.

    Unlike ``mse`` it insists on 4-D heatmaps, so a mis-wired head fails loudly.

    Example:
        >>> target = torch.zeros(1, 2, 4, 4); target[0, :, 0, 0] = 1.0
        >>> HeatmapMSELoss()(torch.zeros(1, 2, 4, 4), target, torch.tensor([[1.0, 0.0]])).item()
        0.0625
    """

    output_kinds = ("heatmap",)

    def per_keypoint(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if prediction.ndim != 4:
            raise ValueError(f"heatmap_mse expects (B, K, H, W) heatmaps, got shape {tuple(prediction.shape)}")
        return ((prediction - target) ** 2).mean(dim=(-2, -1))
