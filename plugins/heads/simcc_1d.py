"""``simcc_1d``: globally pooled features to per-keypoint x and y distributions (``simcc`` codec)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from hipbench.models.keypoint_model import KeypointHead
from hipbench_plugins.heads._layers import TOP_DOWN_ONLY, pick


class SimCCHeadMixin:
    """Loss and decoding shared by the SimCC heads: outputs are ``{"x": logits, "y": logits}``.

    Examples:
        >>> from hipbench_plugins.losses.simcc import KLDiscretLoss
        >>> head = SimCC1DHead(in_channels=(8,), in_strides=(8,), num_keypoints=2, input_size=16)
        >>> out = head([torch.zeros(1, 8, 2, 2)])
        >>> targets = head.codec.encode(torch.full((1, 2, 2), 7.5), torch.ones(1, 2))
        >>> head.loss(out, targets, torch.ones(1, 2), KLDiscretLoss()).item() > 0
        True
    """

    codec: Any

    def loss(self, outputs: dict[str, torch.Tensor], targets: dict[str, torch.Tensor], visible: torch.Tensor,
             loss_fn: nn.Module) -> torch.Tensor:
        return sum(loss_fn(outputs[axis].float(), targets[axis], visible) for axis in ("x", "y")) / 2

    def decode(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.codec.decode(self.probabilities(outputs))

    def uncertainty(self, outputs: dict[str, torch.Tensor]) -> torch.Tensor | None:
        return self.codec.uncertainty(self.probabilities(outputs))

    @staticmethod
    def probabilities(outputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The codec's form of the logits: a softmax over each axis's bins."""
        return {axis: torch.softmax(outputs[axis].float(), dim=-1) for axis in ("x", "y")}


class SimCC1DHead(SimCCHeadMixin, KeypointHead):
    """Global average pool of feature level ``in_index``, a hidden layer, then x and y bin logits per keypoint.

    Examples:
        >>> head = SimCC1DHead(in_channels=(16,), in_strides=(8,), num_keypoints=3, input_size=32)
        >>> out = head([torch.zeros(2, 16, 4, 4)])
        >>> tuple(out["x"].shape), tuple(head.decode(out).shape)
        ((2, 3, 64), (2, 3, 2))
    """

    output_kind = "simcc"
    needs_centred_view = TOP_DOWN_ONLY
    compatible_losses = ("kl_discret",)
    default_loss = "kl_discret"
    default_codec = {"type": "simcc"}

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], num_keypoints: int, input_size: int,
                 in_index: int = -1, hidden: int = 256, codec: Mapping[str, Any] | None = None) -> None:
        super().__init__(in_channels, in_strides, num_keypoints, input_size, codec)
        channels, _ = self.level(in_index)
        self.in_index = in_index
        bins = self.codec.num_bins
        self.hidden = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True))
        self.x_logits = nn.Linear(hidden, self.num_keypoints * bins)
        self.y_logits = nn.Linear(hidden, self.num_keypoints * bins)

    def forward(self, features: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        hidden = self.hidden(pick(features, self.in_index).mean(dim=(2, 3)))
        b = hidden.shape[0]
        return {"x": self.x_logits(hidden).view(b, self.num_keypoints, -1),
                "y": self.y_logits(hidden).view(b, self.num_keypoints, -1)}
