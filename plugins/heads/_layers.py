"""Building blocks shared by the built-in heads (not a plugin)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

# why the pooled and flattened coordinate heads are refused on whole images (KeypointHead.needs_centred_view)
TOP_DOWN_ONLY = ("it maps the view to coordinates through one descriptor of the coarsest level (a top-down head, "
                 "as DeepPose and SimCC/RTMPose are on person crops); on whole images of the phantom it stayed at "
                 "the mean shape's NME at the demo's budget (docs/guide/framings.md). Use the heatmap or integral "
                 "head, or yolo_pose, there")
MASKS_ON_CROPS = ("its disk masks cover a tiny share of a whole image, and the disk BCE collapsed there: on whole "
                  "images of the phantom it scored 48 % NME against the mean shape's 18 % (tests/"
                  "test_heads_framings_train.py's grid) and 54 % against 24 % on the demo's (docs/guide/"
                  "framings.md). Use the heatmap or integral head, or yolo_pose, there")


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """Conv (same padding, no bias) + BatchNorm + ReLU.

    Examples:
        >>> tuple(conv_bn_relu(3, 8)(torch.zeros(1, 3, 5, 5)).shape)
        (1, 8, 5, 5)
    """
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def deconv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """A stride-2 transposed conv (kernel 4) + BatchNorm + ReLU: doubles the map side.

    Examples:
        >>> tuple(deconv_bn_relu(3, 8)(torch.zeros(1, 3, 5, 5)).shape)
        (1, 8, 10, 10)
    """
    return nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def upsampling_steps(in_stride: int, out_stride: int, head: str) -> int:
    """How many doublings take features at ``in_stride`` to ``out_stride`` (powers of two apart).

    Examples:
        >>> upsampling_steps(32, 4, "heatmap")
        3
    """
    ratio = in_stride / out_stride
    steps = round(math.log2(ratio)) if ratio >= 1 else -1
    if steps < 0 or 2**steps != ratio:
        raise ValueError(f"{head}: cannot upsample features at stride {in_stride} to stride {out_stride}; pick a "
                         "coarser feature level (in_index) or an output stride that divides "
                         f"{in_stride} by a power of 2")
    return steps


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """``x`` resized (bilinear) to ``size`` x ``size`` when it is not already that size.

    Backbones round odd input sides differently, so heads that need an exact map size resize.

    Examples:
        >>> tuple(resize(torch.zeros(1, 2, 3, 3), 4).shape)
        (1, 2, 4, 4)
    """
    if tuple(x.shape[-2:]) == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


class UpsamplingDecoder(nn.Module):
    """``steps`` stride-2 deconvolutions (SimpleBaseline style), or one 3x3 conv block when ``steps`` is 0.

    Examples:
        >>> dec = UpsamplingDecoder(16, channels=8, steps=2)
        >>> dec.out_channels, tuple(dec(torch.zeros(1, 16, 2, 2)).shape)
        (8, (1, 8, 8, 8))
    """

    def __init__(self, in_channels: int, channels: int, steps: int) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        current = in_channels
        for _ in range(steps):
            layers.append(deconv_bn_relu(current, channels))
            current = channels
        if not layers:
            layers.append(conv_bn_relu(in_channels, channels))
        self.layers = nn.Sequential(*layers)
        self.out_channels = channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class MapDecoder(nn.Module):
    """Backbone features to a ``channels``-deep map at ``out_stride``: with ``fuse``, every level at or above
    ``out_stride`` is projected, resized to the finest and concatenated first (the ``fpn`` neck), then
    deconvolved the rest of the way if needed; without, SimpleBaseline's deconvolutions from level
    ``in_index`` alone. Fusion gives the map the fine levels without waiting for deconvolutions to learn them,
    which whole images (landmarks a few pixels across) need within a small budget (docs/guide/framings.md).

    Examples:
        >>> dec = MapDecoder((8, 16, 32), (4, 8, 16), in_index=-1, out_stride=4, channels=12, fuse_channels=4)
        >>> feats = [torch.zeros(1, 8, 8, 8), torch.zeros(1, 16, 4, 4), torch.zeros(1, 32, 2, 2)]
        >>> tuple(dec(feats).shape), tuple(MapDecoder((32,), (16,), -1, 4, 12, fuse=False)(feats[-1:]).shape)
        ((1, 12, 8, 8), (1, 12, 8, 8))
    """

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], in_index: int, out_stride: int,
                 channels: int, fuse: bool = True, fuse_channels: int = 64, name: str = "head") -> None:
        super().__init__()
        from hipbench_plugins.necks.fpn import FPNConcatNeck

        self.in_index = in_index
        self.neck = FPNConcatNeck(in_channels, in_strides, fuse_channels, min_stride=out_stride) if fuse else None
        width, stride = ((self.neck.out_channels[0], self.neck.strides[0]) if self.neck is not None
                         else (in_channels[in_index], in_strides[in_index]))
        self.decoder = UpsamplingDecoder(width, channels, upsampling_steps(stride, out_stride, name))
        self.out_channels = channels

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        start = self.neck(features)[0] if self.neck is not None else pick(features, self.in_index)
        return self.decoder(start)


def pick(features: Sequence[torch.Tensor], index: int) -> torch.Tensor:
    """Feature map ``index`` of the backbone's tuple, with a clear error when the tuple is too short.

    Examples:
        >>> tuple(pick((torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 2, 2)), -1).shape)
        (1, 3, 2, 2)
    """
    if not -len(features) <= index < len(features):
        raise ValueError(f"head expects feature level {index} but the backbone returned {len(features)} maps")
    return features[index]
