"""An example hipbench plugin: a tiny two-stage convolutional backbone.

Installed with ``pip install examples/hipbench-example-backbone`` it appears in
``hipbench list backbones`` as ``example_tinynet`` with no change to hipbench itself.
"""

from __future__ import annotations

import torch
from torch import nn

from hipbench.models import Backbone


def _stage(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


class TinyNet(Backbone):
    """Two stride-2 stages; returns feature maps at strides 4 and 8.

    Examples:
        >>> [f.shape[1] for f in TinyNet(width=8)(torch.zeros(1, 3, 32, 32))]
        [8, 16]
    """

    def __init__(self, width: int = 16) -> None:
        super().__init__(out_channels=(width, 2 * width), strides=(4, 8))
        self.stem = nn.Sequential(_stage(3, width // 2), _stage(width // 2, width))
        self.stage2 = _stage(width, 2 * width)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        c1 = self.stem(images)
        return c1, self.stage2(c1)
