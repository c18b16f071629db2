"""``dice`` and ``bce``: losses for per-keypoint mask logits (B, K, H, W) against soft masks in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from hipbench.models.loss import KeypointLoss


class DiceLoss(KeypointLoss):
    """Soft Dice loss ``1 - (2 |P n T| + s) / (|P| + |T| + s)`` per keypoint mask, P = sigmoid(logits).

    Examples:
        >>> target = torch.zeros(1, 1, 4, 4); target[..., :2, :2] = 1.0
        >>> perfect = torch.where(target > 0, 20.0, -20.0)
        >>> DiceLoss()(perfect, target, torch.ones(1, 1)).item() < 1e-6
        True
    """

    output_kinds = ("mask",)

    def __init__(self, smooth: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight)
        self.smooth = float(smooth)

    def per_keypoint(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        probs = torch.sigmoid(prediction).flatten(2)
        target = target.flatten(2)
        overlap = (probs * target).sum(-1)
        return 1 - (2 * overlap + self.smooth) / (probs.sum(-1) + target.sum(-1) + self.smooth)


class BCELoss(KeypointLoss):
    """Binary cross-entropy on logits; ``pos_weight`` > 1 counters the small share of disk pixels.

    Examples:
        >>> target = torch.zeros(1, 1, 2, 2); target[0, 0, 0, 0] = 1.0
        >>> round(BCELoss()(torch.zeros(1, 1, 2, 2), target, torch.ones(1, 1)).item(), 4)
        0.6931
    """

    output_kinds = ("mask",)

    def __init__(self, pos_weight: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight)
        if pos_weight <= 0:
            raise ValueError(f"bce: pos_weight must be positive, got {pos_weight}")
        self.pos_weight = float(pos_weight)

    def elementwise(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pos_weight = torch.tensor(self.pos_weight, device=prediction.device, dtype=prediction.dtype)
        return F.binary_cross_entropy_with_logits(prediction, target, reduction="none", pos_weight=pos_weight)
