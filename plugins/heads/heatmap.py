"""``heatmap``: Gaussian heatmaps per keypoint (``gaussian_heatmap`` codec), SimpleBaseline-style decoder."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from hipbench.models.keypoint_model import KeypointHead
from hipbench_plugins.heads._layers import UpsamplingDecoder, pick, resize, upsampling_steps


class HeatmapHead(KeypointHead):
    """Stride-2 deconvolutions take feature level ``in_index`` to the codec's heatmap stride (default 4),
    then a 1x1 conv predicts one heatmap per keypoint.

    Example:
        >>> head = HeatmapHead(in_channels=(16,), in_strides=(16,), num_keypoints=3, input_size=32,
        ...                    deconv_channels=8)
        >>> out = head([torch.zeros(2, 16, 2, 2)])
        >>> tuple(out.shape), tuple(head.decode(out).shape)
        ((2, 3, 8, 8), (2, 3, 2))
    """

    output_kind = "heatmap"
    compatible_losses = ("heatmap_mse", "adaptive_wing")
    default_loss = "heatmap_mse"
    default_codec = {"type": "gaussian_heatmap"}

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], num_keypoints: int, input_size: int,
                 in_index: int = -1, deconv_channels: int = 128, codec: Mapping[str, Any] | None = None) -> None:
        super().__init__(in_channels, in_strides, num_keypoints, input_size, codec)
        channels, stride = self.level(in_index)
        self.in_index = in_index
        steps = upsampling_steps(stride, self.codec.stride, "heatmap head")
        self.decoder = UpsamplingDecoder(channels, deconv_channels, steps)
        self.final = nn.Conv2d(deconv_channels, self.num_keypoints, 1)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        heatmaps = self.final(self.decoder(pick(features, self.in_index)))
        return resize(heatmaps, self.codec.heatmap_size)
