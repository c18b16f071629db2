"""``heatmap``: Gaussian heatmaps per keypoint (``gaussian_heatmap`` codec), SimpleBaseline-style decoder."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

import torch
from torch import nn

from hipbench.models.keypoint_model import KeypointHead
from hipbench_plugins.heads._layers import (
    SkipUpsamplingDecoder,
    UpsamplingDecoder,
    add_coordinates,
    conv_bn_relu,
    pick,
    resize,
    upsampling_steps,
)


class HeatmapHead(KeypointHead):
    """Stride-2 deconvolutions take feature level ``in_index`` to the codec's heatmap stride (default 4),
    then a 1x1 conv predicts one heatmap per keypoint. With ``skips`` (the default) each step adds the
    backbone level at its stride (:class:`SkipUpsamplingDecoder`); ``skips: false`` is SimpleBaseline.
    Without skips, a whole-image view (landmarks a few pixels across) reached 13.5 % NME where the skips
    reached 8.7 % (infant phantom, 128 px, 20 epochs; README "Framings").

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

    revision: ClassVar[int] = 2  # 2: skips on by default, small final init (1: SimpleBaseline only)

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], num_keypoints: int, input_size: int,
                 in_index: int = -1, deconv_channels: int = 128, skips: bool = True, coordinates: bool = False,
                 codec: Mapping[str, Any] | None = None) -> None:
        super().__init__(in_channels, in_strides, num_keypoints, input_size, codec)
        channels, stride = self.level(in_index)
        self.in_index = in_index
        steps = upsampling_steps(stride, self.codec.stride, "heatmap head")
        self.decoder: nn.Module = (SkipUpsamplingDecoder(self.in_channels, self.in_strides, in_index, deconv_channels,
                                                         steps) if skips
                                   else UpsamplingDecoder(channels, deconv_channels, steps))
        self.skips, self.coordinates = skips, coordinates
        self.refine = conv_bn_relu(deconv_channels + 2, deconv_channels) if coordinates else None
        self.final = nn.Conv2d(deconv_channels, self.num_keypoints, 1)
        nn.init.normal_(self.final.weight, std=0.001)  # start near empty maps, as pose heads do (mmpose)
        nn.init.zeros_(self.final.bias)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        decoded = self.decoder(features) if self.skips else self.decoder(pick(features, self.in_index))
        if self.refine is not None:
            decoded = self.refine(add_coordinates(decoded))
        return resize(self.final(decoded), self.codec.heatmap_size)
