"""The loss contract's base class and the builder of a combination's loss.

:class:`KeypointLoss` is the base of the built-in losses (``hipbench_plugins.losses``) and of any third-party
loss that wants the same reduction; :func:`build_loss` builds the loss a benchmark names for a head, or the
head's default, from the LOSSES registry.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

import torch
from torch import nn

from hipbench.models.keypoint_model import resolved_parts
from hipbench.registry import LOSSES


def weighted_keypoint_mean(per_keypoint: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Weighted mean of a (B, K) per-keypoint loss; all-zero weights give 0 (and zero gradients).

    Examples:
        >>> weighted_keypoint_mean(torch.tensor([[1.0, 3.0]]), torch.tensor([[1.0, 0.0]])).item()
        1.0
        >>> weighted_keypoint_mean(torch.tensor([[1.0, 3.0]]), None).item()
        2.0
    """
    if weight is None:
        return per_keypoint.mean()
    if tuple(weight.shape) != tuple(per_keypoint.shape):
        raise ValueError(f"loss weight must have shape (B, K) = {tuple(per_keypoint.shape)}, got {tuple(weight.shape)}")
    weight = weight.to(per_keypoint.dtype)
    return (per_keypoint * weight).sum() / weight.sum().clamp_min(1e-6)


class KeypointLoss(nn.Module):
    """Base of the built-in losses: ``forward(prediction, target, weight)`` on (B, K, ...) tensors.

    Subclasses implement :meth:`elementwise` (or override :meth:`per_keypoint`); the result is the
    mean over each keypoint's elements, then the visibility-weighted mean over keypoints, times
    ``loss_weight``. ``output_kinds`` names the head output kinds a loss fits (``coordinates``,
    ``heatmap``, ``simcc``, ``mask``); a third-party loss can declare it to pair with built-in heads.

    Examples:
        >>> class Abs(KeypointLoss):
        ...     def elementwise(self, prediction, target):
        ...         return (prediction - target).abs()
        >>> Abs()(torch.zeros(1, 2, 2), torch.ones(1, 2, 2), torch.tensor([[1.0, 0.0]])).item()
        1.0
    """

    output_kinds: ClassVar[tuple[str, ...]] = ()

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)

    def elementwise(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The unreduced loss, same shape as ``prediction``."""
        raise NotImplementedError(f"{type(self).__name__} must implement elementwise() or per_keypoint()")

    def per_keypoint(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The (B, K) loss of each keypoint: the mean of :meth:`elementwise` over its elements."""
        return self.elementwise(prediction, target).flatten(2).mean(-1)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
                ) -> torch.Tensor:
        if prediction.shape != target.shape or prediction.ndim < 3:
            raise ValueError(f"{type(self).__name__}: prediction {tuple(prediction.shape)} and target "
                             f"{tuple(target.shape)} must have the same (B, K, ...) shape")
        per_keypoint = self.per_keypoint(prediction.float(), target.float())
        return self.loss_weight * weighted_keypoint_mean(per_keypoint, weight)

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in vars(self).items() if not k.startswith("_") and k != "training")


def build_loss(head: Mapping[str, Any], loss: Mapping[str, Any] | None = None) -> nn.Module:
    """The loss configured by ``loss``, or the default loss of ``head`` (a head config) when it is None.

    Examples:
        >>> build_loss({"type": "direct_regression"}, {"type": "wing"}).__class__.__name__
        'WingLoss'
        >>> build_loss({"type": "heatmap"}).__class__.__name__  # the head's default
        'HeatmapMSELoss'
    """
    return LOSSES.build(resolved_parts(head, loss)[1])
