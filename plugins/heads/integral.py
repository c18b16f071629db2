"""``integral``: soft-argmax over learned heatmaps gives coordinates (``regression`` codec)."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Mapping, Sequence

import torch
from torch import nn

from hipbench.models.keypoint_model import KeypointHead
from hipbench_plugins.heads._layers import MapDecoder, resize


class IntegralHead(KeypointHead):
    """Integral regression (Sun et al. 2018): the heatmap decoder of ``heatmap`` (fused levels by default:
    :class:`MapDecoder`), a softmax over each map, and the expected position, as normalised coordinates
    trained with a coordinate loss.

    Examples:
        >>> head = IntegralHead(in_channels=(16,), in_strides=(16,), num_keypoints=3, input_size=32,
        ...                     deconv_channels=8)
        >>> out = head([torch.zeros(2, 16, 2, 2)])
        >>> head.decode(out)[0, 0].tolist()  # uniform maps: the centre of the crop
        [15.5, 15.5]
    """

    output_kind = "coordinates"
    compatible_losses = ("l1", "smooth_l1", "mse", "wing")
    default_loss = "l1"
    default_codec = {"type": "regression"}
    revision: ClassVar[int] = 2  # 2: fused levels by default (1: SimpleBaseline deconvolutions only)

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], num_keypoints: int, input_size: int,
                 in_index: int = -1, deconv_channels: int = 128, heatmap_stride: int = 4, fuse: bool = True,
                 fuse_channels: int = 64, codec: Mapping[str, Any] | None = None) -> None:
        super().__init__(in_channels, in_strides, num_keypoints, input_size, codec)
        self.level(in_index)
        self.in_index = in_index
        self.decoder = MapDecoder(self.in_channels, self.in_strides, in_index, heatmap_stride, deconv_channels, fuse,
                                  fuse_channels, "integral head")
        self.final = nn.Conv2d(deconv_channels, self.num_keypoints, 1)
        self.heatmap_size = int(math.ceil(self.input_size / heatmap_stride))
        # normalised coordinate of each heatmap pixel centre, matching the regression codec
        centres = (torch.arange(self.heatmap_size, dtype=torch.float32) + 0.5) * heatmap_stride / self.input_size
        self.register_buffer("centres", centres, persistent=False)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        logits = resize(self.final(self.decoder(features)), self.heatmap_size)
        probs = torch.softmax(logits.float().flatten(2), dim=-1).view_as(logits)
        x = (probs.sum(dim=-2) * self.centres).sum(-1)
        y = (probs.sum(dim=-1) * self.centres).sum(-1)
        return torch.stack([x, y], dim=-1)
