"""Optional necks between a backbone and a head. ``NECKS`` maps a neck ``type`` to its class.

A neck takes the backbone's feature tuple and returns a new one; like a backbone it declares
``out_channels`` and ``strides``, so heads see no difference.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn


class FPNConcatNeck(nn.Module):
    """Multi-scale fusion: a 1x1 lateral conv (+BN+ReLU) per level, every level resized to the finest
    chosen one, then concatenated into one map.

    ``levels`` are indices into the backbone's features (default: every level with stride >=
    ``min_stride``); the output is one map of ``channels * len(levels)`` channels at the finest
    chosen stride.

    Example:
        >>> neck = FPNConcatNeck(in_channels=(8, 16, 32), in_strides=(4, 8, 16), channels=4)
        >>> feats = (torch.zeros(1, 8, 8, 8), torch.zeros(1, 16, 4, 4), torch.zeros(1, 32, 2, 2))
        >>> neck.out_channels, neck.strides, tuple(neck(feats)[0].shape)
        ((12,), (4,), (1, 12, 8, 8))
    """

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], channels: int = 64,
                 levels: Sequence[int] | None = None, min_stride: int = 4) -> None:
        super().__init__()
        if len(in_channels) != len(in_strides):
            raise ValueError(f"fpn neck: in_channels {tuple(in_channels)} and in_strides {tuple(in_strides)} "
                             "differ in length")
        n = len(in_strides)
        if levels is None:
            levels = [i for i, s in enumerate(in_strides) if s >= min_stride] or [n - 1]
        levels = [int(i) % n for i in levels]
        if not levels or len(set(levels)) != len(levels):
            raise ValueError(f"fpn neck: levels must be distinct indices into {n} backbone features, got {levels}")
        self.levels = levels
        self.laterals = nn.ModuleList(
            nn.Sequential(nn.Conv2d(in_channels[i], channels, 1, bias=False), nn.BatchNorm2d(channels),
                          nn.ReLU(inplace=True))
            for i in levels)
        self.finest = min(levels, key=lambda i: in_strides[i])
        self.out_channels = (channels * len(levels),)
        self.strides = (int(in_strides[self.finest]),)

    def forward(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor]:
        size = features[self.finest].shape[-2:]
        maps = []
        for index, lateral in zip(self.levels, self.laterals):
            out = lateral(features[index])
            if out.shape[-2:] != size:
                out = F.interpolate(out, size=size, mode="bilinear", align_corners=False)
            maps.append(out)
        return (torch.cat(maps, dim=1),)


NECKS: dict[str, type[nn.Module]] = {"fpn": FPNConcatNeck, "fpn_concat": FPNConcatNeck}


def build_neck(cfg: dict[str, Any], in_channels: Sequence[int], in_strides: Sequence[int]) -> nn.Module:
    """Build the neck ``cfg`` (``type`` plus keyword arguments) for features of the given channels/strides.

    Example:
        >>> build_neck({"type": "fpn", "channels": 8}, (16, 32), (8, 16)).out_channels
        (16,)
    """
    cfg = dict(cfg)
    kind = cfg.pop("type", None)
    if kind not in NECKS:
        raise ValueError(f"unknown neck {kind!r}; known necks: {', '.join(sorted(NECKS))}")
    return NECKS[kind](in_channels=tuple(in_channels), in_strides=tuple(in_strides), **cfg)
