"""``simcc_2d``: per-keypoint maps flattened to x and y distributions (``simcc`` codec)."""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch
from torch import nn

from hipbench.models.keypoint_model import KeypointHead
from hipbench_plugins.heads._layers import TOP_DOWN_ONLY, pick, resize
from hipbench_plugins.heads.simcc_1d import SimCCHeadMixin


class SimCC2DHead(SimCCHeadMixin, KeypointHead):
    """A conv maps feature level ``in_index`` to one map per keypoint; each map is flattened and a
    shared MLP turns it into x and y bin logits (the RTMPose/SimCC coordinate classifier).

    Maps are resized to ``ceil(input_size / stride)`` when a backbone rounds odd sides differently.

    Examples:
        >>> head = SimCC2DHead(in_channels=(16,), in_strides=(8,), num_keypoints=3, input_size=32)
        >>> out = head([torch.zeros(2, 16, 4, 4)])
        >>> tuple(out["y"].shape), tuple(head.decode(out).shape)
        ((2, 3, 64), (2, 3, 2))
    """

    output_kind = "simcc"
    needs_centred_view = TOP_DOWN_ONLY
    compatible_losses = ("kl_discret",)
    default_loss = "kl_discret"
    default_codec = {"type": "simcc"}

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], num_keypoints: int, input_size: int,
                 in_index: int = -1, hidden: int = 256, kernel_size: int = 3,
                 codec: Mapping[str, Any] | None = None) -> None:
        super().__init__(in_channels, in_strides, num_keypoints, input_size, codec)
        channels, stride = self.level(in_index)
        self.in_index = in_index
        self.pre, channels, stride = self.build_pre(channels, stride)
        self.map_size = int(math.ceil(self.input_size / stride))
        self.to_maps = nn.Conv2d(channels, self.num_keypoints, kernel_size, padding=kernel_size // 2)
        bins = self.codec.num_bins
        self.mlp = nn.Sequential(nn.Linear(self.map_size**2, hidden), nn.ReLU(inplace=True))
        self.x_logits = nn.Linear(hidden, bins)
        self.y_logits = nn.Linear(hidden, bins)

    def build_pre(self, channels: int, stride: int) -> tuple[nn.Module, int, int]:
        """Layers before the keypoint maps, with the channels and stride they leave (none here)."""
        return nn.Identity(), channels, stride

    def forward(self, features: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
        maps = resize(self.to_maps(self.pre(pick(features, self.in_index))), self.map_size)
        hidden = self.mlp(maps.flatten(2))
        return {"x": self.x_logits(hidden), "y": self.y_logits(hidden)}
