"""``heatmap``: Gaussian heatmaps per keypoint (``gaussian_heatmap`` codec) from fused backbone levels."""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

import torch
from torch import nn

from hipbench.models.keypoint_model import KeypointHead
from hipbench_plugins.heads._layers import MapDecoder, resize


class HeatmapHead(KeypointHead):
    """Stride-2 deconvolutions take feature level ``in_index`` to the codec's heatmap stride (default 4),
    then a 1x1 conv predicts one heatmap per keypoint. With ``fuse`` (the default) the head first fuses every
    backbone level at or above the heatmap stride (the ``fpn`` neck's projection, bilinear resize and
    concatenation, ``fuse_channels`` per level), so the finest detail reaches the maps without learned
    deconvolutions; ``fuse: false`` is SimpleBaseline (deconvolutions from level ``in_index`` alone). On whole
    images, where a landmark is a few pixels across, SimpleBaseline learned slowly and reached 13.3 % NME at
    the demo's budget where fusion reached 8.7 % (docs/guide/framings.md). The final conv starts near zero
    (``init_std``; None keeps PyTorch's default, with which the plain MSE collapsed to empty maps).

    Examples:
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

    revision: ClassVar[int] = 2  # 2: multi-level fusion by default, small final init (1: SimpleBaseline only)

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], num_keypoints: int, input_size: int,
                 in_index: int = -1, deconv_channels: int = 128, fuse: bool = True, fuse_channels: int = 64,
                 init_std: float | None = 0.001, codec: Mapping[str, Any] | None = None) -> None:
        super().__init__(in_channels, in_strides, num_keypoints, input_size, codec)
        self.level(in_index)
        self.in_index, self.fuse = in_index, fuse
        self.decoder = MapDecoder(self.in_channels, self.in_strides, in_index, self.codec.stride, deconv_channels,
                                  fuse, fuse_channels, "heatmap head")
        self.final = nn.Conv2d(deconv_channels, self.num_keypoints, 1)
        if init_std is not None:  # start near empty maps, as pose heads do (mmpose); None: PyTorch's default
            nn.init.normal_(self.final.weight, std=float(init_std))
            nn.init.zeros_(self.final.bias)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        decoded = self.decoder(features)
        return resize(self.final(decoded), self.codec.heatmap_size)
