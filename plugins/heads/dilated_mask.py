"""``dilated_mask``: a U-Net-style decoder predicting a dilated disk per landmark (``disk_mask`` codec)."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hipbench.models.keypoint_model import KeypointHead
from hipbench_plugins.heads._layers import MASKS_ON_CROPS, conv_bn_relu, resize, upsampling_steps


class DilatedMaskHead(KeypointHead):
    """Decodes from the coarsest feature level up through every finer one (upsample, concatenate the
    skip, two 3x3 conv blocks), then keeps doubling to the codec's mask stride (default 1: full input
    resolution) and predicts one disk logit map per landmark, decoded by the disk centroid.

    ``decoder_channels`` gives each stage's width (the last repeats when there are more stages).

    Examples:
        >>> head = DilatedMaskHead(in_channels=(8, 16), in_strides=(4, 8), num_keypoints=3, input_size=32,
        ...                        decoder_channels=(8, 4))
        >>> out = head([torch.zeros(2, 8, 8, 8), torch.zeros(2, 16, 4, 4)])
        >>> tuple(out.shape), tuple(head.decode(out).shape)
        ((2, 3, 32, 32), (2, 3, 2))
    """

    output_kind = "mask"
    needs_centred_view = MASKS_ON_CROPS
    compatible_losses = ("dice", "bce")
    default_loss = "bce"
    default_codec = {"type": "disk_mask"}

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], num_keypoints: int, input_size: int,
                 decoder_channels: Sequence[int] | int = (128, 64, 32, 16), min_stride: int = 1,
                 codec: Mapping[str, Any] | None = None) -> None:
        super().__init__(in_channels, in_strides, num_keypoints, input_size, codec)
        levels = [i for i, s in enumerate(self.in_strides) if s >= min_stride]
        if not levels:
            raise ValueError(f"dilated_mask: no feature level has stride >= min_stride {min_stride}")
        self.levels = sorted(levels, key=lambda i: self.in_strides[i], reverse=True)  # coarsest first
        finest_stride = self.in_strides[self.levels[-1]]
        extra = upsampling_steps(finest_stride, self.codec.stride, "dilated_mask head")
        widths = [decoder_channels] if isinstance(decoder_channels, int) else list(decoder_channels)
        if not widths:
            raise ValueError("dilated_mask: decoder_channels must name at least one width")
        stages = len(self.levels) - 1 + extra
        widths = (widths + [widths[-1]] * stages)[:max(stages, 1)]
        blocks = []
        current = self.in_channels[self.levels[0]]
        for stage in range(stages):
            skip = self.in_channels[self.levels[stage + 1]] if stage + 1 < len(self.levels) else 0
            blocks.append(nn.Sequential(conv_bn_relu(current + skip, widths[stage]),
                                        conv_bn_relu(widths[stage], widths[stage])))
            current = widths[stage]
        self.blocks = nn.ModuleList(blocks)
        self.final = nn.Conv2d(current, self.num_keypoints, 1)
        nn.init.constant_(self.final.bias, -2.0)  # start near "background everywhere"

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = features[self.levels[0]]
        for stage, block in enumerate(self.blocks):
            if stage + 1 < len(self.levels):
                skip = features[self.levels[stage + 1]]
                x = torch.cat([F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False), skip], 1)
            else:
                x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
            x = block(x)
        return resize(self.final(x), self.codec.mask_size)

    def decode(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.codec.decode(torch.sigmoid(outputs.float()))

    def uncertainty(self, outputs: torch.Tensor) -> torch.Tensor | None:
        return self.codec.uncertainty(torch.sigmoid(outputs.float()))

    def peak(self, outputs: torch.Tensor) -> torch.Tensor | None:
        return self.codec.peak(torch.sigmoid(outputs.float()))
