"""``heatmap_mse``: mean squared error over each keypoint's heatmap, weighted by visibility, with the foreground
weighted up so that an empty map is not a cheap minimum."""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F

from hipbench.models.loss import KeypointLoss


def foreground_weights(target: torch.Tensor, weight: float, threshold: float = 0.2) -> torch.Tensor:
    """``1 + weight`` on each heatmap's foreground (target >= ``threshold``, dilated by one pixel), 1 elsewhere.

    The foreground of a Gaussian of ``sigma`` heatmap pixels covers about ``2 pi sigma**2`` of ``H * W``
    pixels (2.5 % at sigma 2 on 32 x 32), so a plain mean puts 97 % of its weight on the background and an
    all-zero map sits at a loss floor of ``pi sigma**2 / (H W)``. Weighting the foreground (AWing's
    weighted loss map) makes the peak matter.

    Examples:
        >>> t = torch.zeros(1, 1, 5, 5); t[0, 0, 2, 2] = 1.0
        >>> w = foreground_weights(t, 9.0)
        >>> float(w[0, 0, 2, 2]), float(w[0, 0, 1, 1]), float(w[0, 0, 0, 0])
        (10.0, 10.0, 1.0)
    """
    if weight == 0:
        return torch.ones_like(target)
    mask = (target >= threshold).to(target.dtype)
    if target.ndim == 4:
        mask = F.max_pool2d(mask, 3, stride=1, padding=1)
    return 1.0 + weight * mask


class HeatmapMSELoss(KeypointLoss):
    """Per-keypoint mean squared error over (B, K, H, W) heatmaps, visibility-weighted over keypoints.

    ``foreground_weight`` (default 10) multiplies the error on each map's foreground by ``1 + weight``
    (:func:`foreground_weights`); 0 gives the plain MSE, which collapses to empty maps on small datasets
    (the loss floor an empty map reaches is lower than what a network learns in a few hundred steps).
    Unlike ``mse`` it insists on 4-D heatmaps, so a mis-wired head fails loudly.

    Examples:
        >>> target = torch.zeros(1, 2, 4, 4); target[0, :, 0, 0] = 1.0
        >>> HeatmapMSELoss(foreground_weight=0)(torch.zeros(1, 2, 4, 4), target, torch.tensor([[1.0, 0.0]])).item()
        0.0625
        >>> HeatmapMSELoss()(torch.zeros(1, 2, 4, 4), target, torch.tensor([[1.0, 0.0]])).item()
        0.6875
    """

    output_kinds = ("heatmap",)
    revision: ClassVar[int] = 2  # 2: the foreground weight (1: plain MSE, which collapses)

    tune_space = {"foreground_weight": {"type": "loguniform", "low": 1.0, "high": 30.0}}  # `tune:` default space

    def __init__(self, foreground_weight: float = 10.0, loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight)
        if foreground_weight < 0:
            raise ValueError(f"heatmap_mse: foreground_weight must be >= 0, got {foreground_weight}")
        self.foreground_weight = float(foreground_weight)

    def per_keypoint(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if prediction.ndim != 4:
            raise ValueError(f"heatmap_mse expects (B, K, H, W) heatmaps, got shape {tuple(prediction.shape)}")
        weights = foreground_weights(target, self.foreground_weight)
        return (weights * (prediction - target) ** 2).mean(dim=(-2, -1))
