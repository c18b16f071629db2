"""``simcc_2d_deconv``: three stride-2 deconvolutions, then the ``simcc_2d`` coordinate classifier."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from torch import nn

from hipbench_plugins.heads._layers import UpsamplingDecoder
from hipbench_plugins.heads.simcc_2d import SimCC2DHead


class SimCC2DDeconvHead(SimCC2DHead):
    """``num_deconv`` (default 3) stride-2 deconvolutions of ``deconv_channels`` before the keypoint maps,
    as in SimCC on SimpleBaseline; the maps are 8x finer, so the classifier sees more positions.

    Examples:
        >>> import torch
        >>> head = SimCC2DDeconvHead(in_channels=(16,), in_strides=(32,), num_keypoints=3, input_size=64,
        ...                          deconv_channels=8)
        >>> head.map_size, tuple(head([torch.zeros(2, 16, 2, 2)])["x"].shape)
        (16, (2, 3, 128))
    """

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], num_keypoints: int, input_size: int,
                 in_index: int = -1, hidden: int = 256, kernel_size: int = 3, deconv_channels: int = 128,
                 num_deconv: int = 3, codec: Mapping[str, Any] | None = None) -> None:
        self._deconv = (int(deconv_channels), int(num_deconv))
        super().__init__(in_channels, in_strides, num_keypoints, input_size, in_index, hidden, kernel_size, codec)

    def build_pre(self, channels: int, stride: int) -> tuple[nn.Module, int, int]:
        deconv_channels, steps = self._deconv
        if stride % 2**steps:
            raise ValueError(f"simcc_2d_deconv: {steps} deconvolutions cannot refine stride {stride}; use a coarser "
                             "feature level (in_index) or fewer deconvolutions (num_deconv)")
        return UpsamplingDecoder(channels, deconv_channels, steps), deconv_channels, stride // 2**steps
