"""``kl_discret``: KL divergence between SimCC label distributions and predicted 1-D distributions."""

from __future__ import annotations

import torch

from hipbench.models.loss import KeypointLoss


class KLDiscretLoss(KeypointLoss):
    """``KL(target || softmax(prediction / temperature))`` along the last (bin) axis, per keypoint.

    ``prediction`` holds logits (B, K, N) and ``target`` a distribution per keypoint (each row sums
    to 1, as the ``simcc`` codec makes it).

    Examples:
        >>> target = torch.softmax(torch.tensor([[[0.0, 2.0, 0.0]]]), -1)
        >>> KLDiscretLoss()(torch.tensor([[[0.0, 2.0, 0.0]]]), target, torch.ones(1, 1)).abs().item() < 1e-6
        True
        >>> KLDiscretLoss()(torch.zeros(1, 1, 3), target, torch.ones(1, 1)).item() > 0
        True
    """

    output_kinds = ("simcc",)

    def __init__(self, temperature: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight)
        if temperature <= 0:
            raise ValueError(f"kl_discret: temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def per_keypoint(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if prediction.ndim != 3:
            raise ValueError(f"kl_discret expects (B, K, bins) logits, got shape {tuple(prediction.shape)}")
        log_pred = torch.log_softmax(prediction / self.temperature, dim=-1)
        return (torch.xlogy(target, target) - target * log_pred).sum(-1)
