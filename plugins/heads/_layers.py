"""Building blocks shared by the built-in heads (not a plugin)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def conv_bn_relu(in_channels: int, out_channels: int, kernel_size: int = 3) -> nn.Sequential:
    """Conv (same padding, no bias) + BatchNorm + ReLU.

    Example:
        >>> tuple(conv_bn_relu(3, 8)(torch.zeros(1, 3, 5, 5)).shape)
        (1, 8, 5, 5)
    """
    return nn.Sequential(nn.Conv2d(in_channels, out_channels, kernel_size, padding=kernel_size // 2, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def deconv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    """A stride-2 transposed conv (kernel 4) + BatchNorm + ReLU: doubles the map side.

    Example:
        >>> tuple(deconv_bn_relu(3, 8)(torch.zeros(1, 3, 5, 5)).shape)
        (1, 8, 10, 10)
    """
    return nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 4, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(out_channels), nn.ReLU(inplace=True))


def upsampling_steps(in_stride: int, out_stride: int, head: str) -> int:
    """How many doublings take features at ``in_stride`` to ``out_stride`` (powers of two apart).

    Example:
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

    Example:
        >>> tuple(resize(torch.zeros(1, 2, 3, 3), 4).shape)
        (1, 2, 4, 4)
    """
    if tuple(x.shape[-2:]) == (size, size):
        return x
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


class UpsamplingDecoder(nn.Module):
    """``steps`` stride-2 deconvolutions (SimpleBaseline style), or one 3x3 conv block when ``steps`` is 0.

    Example:
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


class SkipUpsamplingDecoder(nn.Module):
    """:class:`UpsamplingDecoder` with a lateral skip at every step: after each stride-2 deconvolution, a 1x1
    projection (+BN) of the backbone level at the new stride, when there is one, is added (the FPN / U-Net
    top-down path). Whole-image landmarks are a few pixels across; the coarsest level alone has seen them at
    stride 32, the skips bring the stride-4..16 detail back.

    Example:
        >>> dec = SkipUpsamplingDecoder((4, 8, 16), (4, 8, 16), start=-1, channels=8, steps=2)
        >>> feats = [torch.zeros(1, 4, 8, 8), torch.zeros(1, 8, 4, 4), torch.zeros(1, 16, 2, 2)]
        >>> dec.out_channels, tuple(dec(feats).shape), dec.skip_strides
        (8, (1, 8, 8, 8), (8, 4))
    """

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], start: int, channels: int,
                 steps: int) -> None:
        super().__init__()
        self.start = start % len(in_strides)
        self.stem = UpsamplingDecoder(in_channels[self.start], channels, 0) if steps == 0 else None
        self.ups = nn.ModuleList()
        self.laterals = nn.ModuleList()
        self.skip_index: list[int] = []
        current, stride = in_channels[self.start], in_strides[self.start]
        for _ in range(steps):
            self.ups.append(deconv_bn_relu(current, channels))
            current, stride = channels, stride // 2
            index = next((i for i, s in enumerate(in_strides) if s == stride), -1)
            self.skip_index.append(index)
            self.laterals.append(nn.Sequential(nn.Conv2d(in_channels[index], channels, 1, bias=False),
                                               nn.BatchNorm2d(channels)) if index >= 0 else nn.Identity())
        self.skip_strides = tuple(in_strides[i] for i in self.skip_index if i >= 0)
        self.out_channels = channels

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        x = features[self.start]
        if self.stem is not None:
            return self.stem(x)
        for up, lateral, index in zip(self.ups, self.laterals, self.skip_index):
            x = up(x)
            if index >= 0:
                skip = lateral(features[index])
                if skip.shape[-2:] != x.shape[-2:]:
                    skip = F.interpolate(skip, size=x.shape[-2:], mode="bilinear", align_corners=False)
                x = F.relu(x + skip)
        return x


class GlobalPool(nn.Module):
    """A feature map to one vector: the channel means, and with ``position`` each channel's spatial soft-argmax
    (the expected x and y under a softmax over the map, in [-1, 1]) beside them.

    Mean pooling alone forgets where a feature is, which a crop centred on its hip barely needs but a whole
    radiograph does: pooled heads on whole images scored no better than the mean shape (README "Framings").
    The soft-argmax keeps each feature's position at the cost of 2 numbers per channel (spatial softmax
    features, as in Levine et al.'s deep spatial autoencoders).

    Example:
        >>> pool = GlobalPool(4, position=True)
        >>> x = torch.zeros(1, 4, 5, 5); x[0, :, 0, 4] = 50.0  # every channel fires in the top-right corner
        >>> pool.out_channels, [round(v, 2) for v in pool(x)[0, 4:6].tolist()]
        (12, [1.0, -1.0])
    """

    def __init__(self, channels: int, position: bool = True) -> None:
        super().__init__()
        self.position = position
        self.out_channels = channels * (3 if position else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3))
        if not self.position:
            return mean
        b, c, h, w = x.shape
        weights = torch.softmax(x.float().flatten(2), dim=-1).view(b, c, h, w)
        ys = torch.linspace(-1.0, 1.0, h, device=x.device) if h > 1 else torch.zeros(1, device=x.device)
        xs = torch.linspace(-1.0, 1.0, w, device=x.device) if w > 1 else torch.zeros(1, device=x.device)
        ex = (weights.sum(2) * xs).sum(-1)
        ey = (weights.sum(3) * ys).sum(-1)
        return torch.cat([mean, torch.stack([ex, ey], dim=-1).flatten(1).to(mean.dtype)], dim=1)


def add_coordinates(x: torch.Tensor) -> torch.Tensor:
    """``x`` with two more channels: each pixel's x and y in [-1, 1] (CoordConv). Convolutions are translation
    equivariant, so on a whole radiograph the left and right hips look alike to them; the coordinates let a
    landmark's map tell the image sides apart.

    Example:
        >>> out = add_coordinates(torch.zeros(1, 3, 2, 4))
        >>> tuple(out.shape), [round(v, 3) for v in out[0, 3, 0].tolist()], out[0, 4, :, 0].tolist()
        ((1, 5, 2, 4), [-1.0, -0.333, 0.333, 1.0], [-1.0, 1.0])
    """
    b, _, h, w = x.shape
    ys = torch.linspace(-1.0, 1.0, h, device=x.device, dtype=x.dtype).view(1, 1, h, 1).expand(b, 1, h, w)
    xs = torch.linspace(-1.0, 1.0, w, device=x.device, dtype=x.dtype).view(1, 1, 1, w).expand(b, 1, h, w)
    return torch.cat([x, xs, ys], dim=1)


def pick(features: Sequence[torch.Tensor], index: int) -> torch.Tensor:
    """Feature map ``index`` of the backbone's tuple, with a clear error when the tuple is too short.

    Example:
        >>> tuple(pick((torch.zeros(1, 2, 4, 4), torch.zeros(1, 3, 2, 2)), -1).shape)
        (1, 3, 2, 2)
    """
    if not -len(features) <= index < len(features):
        raise ValueError(f"head expects feature level {index} but the backbone returned {len(features)} maps")
    return features[index]
