"""``wing`` (Feng et al., CVPR 2018) and ``adaptive_wing`` (Wang et al., ICCV 2019)."""

from __future__ import annotations

import math

import torch

from hipbench.models.loss import KeypointLoss


class WingLoss(KeypointLoss):
    """Wing loss: ``omega * ln(1 + |d| / epsilon)`` for ``|d| < omega``, linear beyond.

    ``omega`` and ``epsilon`` are in the units of the target: the regression codec's targets are
    coordinates normalised to the input side, so the defaults (0.1 and 0.02) mean 10% and 2% of it.

    Examples:
        >>> loss = WingLoss(omega=10.0, epsilon=2.0)
        >>> round(loss(torch.zeros(1, 1, 2), torch.tensor([[[2.0, 20.0]]]), torch.ones(1, 1)).item(), 4)
        17.4245
    """

    output_kinds = ("coordinates",)

    def __init__(self, omega: float = 0.1, epsilon: float = 0.02, loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight)
        if omega <= 0 or epsilon <= 0:
            raise ValueError(f"wing: omega and epsilon must be positive, got {omega} and {epsilon}")
        self.omega, self.epsilon = float(omega), float(epsilon)
        self._c = self.omega - self.omega * math.log1p(self.omega / self.epsilon)

    def elementwise(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        delta = (prediction - target).abs()
        return torch.where(delta < self.omega, self.omega * torch.log1p(delta / self.epsilon), delta - self._c)


class AdaptiveWingLoss(KeypointLoss):
    """Adaptive Wing loss for heatmaps in [0, 1]: the exponent ``alpha - y`` adapts to the target value,
    so foreground pixels keep a strong gradient near zero error while background pixels behave like
    a smooth L2.

    Examples:
        >>> loss = AdaptiveWingLoss()
        >>> target = torch.zeros(1, 1, 4, 4); target[0, 0, 1, 1] = 1.0
        >>> loss(target, target, torch.ones(1, 1)).item()
        0.0
        >>> round(loss(torch.zeros(1, 1, 4, 4), target, torch.ones(1, 1)).item(), 4)
        0.6412
    """

    output_kinds = ("heatmap",)

    def __init__(self, alpha: float = 2.1, omega: float = 14.0, epsilon: float = 1.0, theta: float = 0.5,
                 loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight)
        self.alpha, self.omega, self.epsilon, self.theta = float(alpha), float(omega), float(epsilon), float(theta)

    def elementwise(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        delta = (prediction - target).abs()
        power = self.alpha - target
        ratio = self.theta / self.epsilon
        a = (self.omega / (1 + ratio**power) * power * ratio ** (power - 1) / self.epsilon)
        c = self.theta * a - self.omega * torch.log1p(ratio**power)
        near = self.omega * torch.log1p((delta / self.epsilon) ** power)
        return torch.where(delta < self.theta, near, a * delta - c)
