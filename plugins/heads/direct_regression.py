"""``direct_regression``: globally pooled features to normalised coordinates (``regression`` codec)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from hipbench.models.keypoint_model import KeypointHead
from hipbench_plugins.heads._layers import TOP_DOWN_ONLY, pick


class DirectRegressionHead(KeypointHead):
    """Global average pool of feature level ``in_index``, an MLP, and K x 2 normalised coordinates.

    Examples:
        >>> head = DirectRegressionHead(in_channels=(16,), in_strides=(8,), num_keypoints=3, input_size=32)
        >>> out = head([torch.zeros(2, 16, 4, 4)])
        >>> tuple(out.shape), tuple(head.decode(out).shape)
        ((2, 3, 2), (2, 3, 2))
    """

    output_kind = "coordinates"
    needs_centred_view = TOP_DOWN_ONLY
    compatible_losses = ("l1", "smooth_l1", "mse", "wing")
    default_loss = "l1"
    default_codec = {"type": "regression"}

    tune_space = {"dropout": {"type": "uniform", "low": 0.0, "high": 0.5}}  # `tune:` default space

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], num_keypoints: int, input_size: int,
                 in_index: int = -1, hidden: int = 256, dropout: float = 0.0,
                 codec: Mapping[str, Any] | None = None) -> None:
        super().__init__(in_channels, in_strides, num_keypoints, input_size, codec)
        channels, _ = self.level(in_index)
        self.in_index = in_index
        self.mlp = nn.Sequential(nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
                                 nn.Linear(hidden, self.num_keypoints * 2))
        nn.init.normal_(self.mlp[-1].weight, std=1e-3)
        nn.init.constant_(self.mlp[-1].bias, 0.5)  # start every point at the crop centre

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        pooled = pick(features, self.in_index).mean(dim=(2, 3))
        return self.mlp(pooled).view(-1, self.num_keypoints, 2)
