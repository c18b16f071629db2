"""The backbone contract: a plain ``nn.Module`` that declares its feature channels and strides."""

from __future__ import annotations

import abc

import torch
from torch import nn

from hipbench.models.weights import WeightsRecord


class Backbone(nn.Module, abc.ABC):
    """Feature extractor for keypoint heads.

    Subclasses set ``out_channels`` and ``strides`` (one entry per returned feature map, finest
    first) in ``__init__`` and implement ``forward(images) -> tuple[Tensor, ...]``. Model code never
    moves itself to a device; the trainer does. ``weights`` (a :class:`~hipbench.models.weights.WeightsRecord`,
    scratch unless the subclass loads weights) says what the parameters started from; a factory may also
    offer ``weights_identity(**kwargs) -> str`` (see :mod:`hipbench.models.weights`).

    Examples:
        >>> class Tiny(Backbone):
        ...     def __init__(self):
        ...         super().__init__(out_channels=(4,), strides=(2,))
        ...         self.conv = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1)
        ...     def forward(self, images):
        ...         return (self.conv(images),)
        >>> [f.shape[1:] for f in Tiny()(torch.zeros(1, 3, 8, 8))]
        [torch.Size([4, 4, 4])]
    """

    def __init__(self, out_channels: tuple[int, ...], strides: tuple[int, ...]) -> None:
        super().__init__()
        if len(out_channels) != len(strides) or not out_channels:
            raise ValueError(
                f"{type(self).__name__}: out_channels {out_channels} and strides {strides} must be "
                "non-empty and of equal length (one per feature map)"
            )
        self.out_channels = tuple(int(c) for c in out_channels)
        self.strides = tuple(int(s) for s in strides)
        self.weights = WeightsRecord()

    @abc.abstractmethod
    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Map ``images`` (B, 3, H, W) to feature maps, one per declared stride."""
