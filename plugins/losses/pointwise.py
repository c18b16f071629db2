"""``mse``, ``l1`` and ``smooth_l1``: plain element-wise losses on any (B, K, ...) output."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hipbench.models.loss import KeypointLoss


class MSELoss(KeypointLoss):
    """Mean squared error, visibility-weighted over keypoints.

    Examples:
        >>> MSELoss()(torch.zeros(1, 1, 2), torch.tensor([[[1.0, 3.0]]]), torch.ones(1, 1)).item()
        5.0
    """

    output_kinds = ("coordinates",)

    def elementwise(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (prediction - target) ** 2


class L1Loss(KeypointLoss):
    """Mean absolute error, visibility-weighted over keypoints.

    Examples:
        >>> L1Loss()(torch.zeros(1, 1, 2), torch.tensor([[[1.0, 3.0]]]), torch.ones(1, 1)).item()
        2.0
    """

    output_kinds = ("coordinates",)

    def elementwise(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (prediction - target).abs()


class SmoothL1Loss(KeypointLoss):
    """Huber-style smooth L1 (quadratic below ``beta``, linear above), visibility-weighted.

    Examples:
        >>> SmoothL1Loss(beta=1.0)(torch.zeros(1, 1, 2), torch.tensor([[[0.5, 3.0]]]), torch.ones(1, 1)).item()
        1.3125
    """

    output_kinds = ("coordinates",)

    def __init__(self, beta: float = 0.05, loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight)
        if beta <= 0:
            raise ValueError(f"smooth_l1: beta must be positive, got {beta}")
        self.beta = float(beta)

    def elementwise(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return F.smooth_l1_loss(prediction, target, reduction="none", beta=self.beta)
