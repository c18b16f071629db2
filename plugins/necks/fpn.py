"""``fpn`` (alias ``fpn_concat``): multi-scale fusion of backbone levels into one map at the finest chosen stride."""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from hipbench.models.neck import Neck


class FPNConcatNeck(Neck):
    """Multi-scale fusion: a 1x1 lateral conv (+BN+ReLU) per level, every level resized to the finest
    chosen one, then concatenated into one map.

    ``levels`` are indices into the backbone's features (default: every level with stride >=
    ``min_stride``); the output is one map of ``channels * len(levels)`` channels at the finest
    chosen stride.

    Examples:
        >>> neck = FPNConcatNeck(in_channels=(8, 16, 32), in_strides=(4, 8, 16), channels=4)
        >>> feats = (torch.zeros(1, 8, 8, 8), torch.zeros(1, 16, 4, 4), torch.zeros(1, 32, 2, 2))
        >>> neck.out_channels, neck.strides, tuple(neck(feats)[0].shape)
        ((12,), (4,), (1, 12, 8, 8))
    """

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], channels: int = 64,
                 levels: Sequence[int] | None = None, min_stride: int = 4) -> None:
        super().__init__(in_channels, in_strides)
        n = len(self.in_strides)
        if levels is None:
            levels = [i for i, s in enumerate(self.in_strides) if s >= min_stride] or [n - 1]
        levels = [int(i) % n for i in levels]
        if not levels or len(set(levels)) != len(levels):
            raise ValueError(f"fpn neck: levels must be distinct indices into {n} backbone features, got {levels}")
        self.levels = levels
        self.laterals = nn.ModuleList(
            nn.Sequential(nn.Conv2d(self.in_channels[i], channels, 1, bias=False), nn.BatchNorm2d(channels),
                          nn.ReLU(inplace=True))
            for i in levels)
        self.finest = min(levels, key=lambda i: self.in_strides[i])
        self.out_channels = (channels * len(levels),)
        self.strides = (self.in_strides[self.finest],)

    def forward(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor]:
        size = features[self.finest].shape[-2:]
        maps = []
        for index, lateral in zip(self.levels, self.laterals):
            out = lateral(features[index])
            if out.shape[-2:] != size:
                out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
            maps.append(out)
        return (torch.cat(maps, dim=1),)
