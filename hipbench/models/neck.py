"""The neck contract: an optional module between a backbone and a head, built through the NECKS registry.

A neck is built as ``f(in_channels, in_strides, **kwargs)`` from the backbone's declared channels and
strides, maps the backbone's feature tuple to a new one, and, like a backbone, declares ``out_channels``
and ``strides`` (one per returned map), so heads see no difference.
"""

from __future__ import annotations

import abc
from typing import Any, Sequence

import torch
from torch import nn

RESERVED = ("in_channels", "in_strides")


class Neck(nn.Module, abc.ABC):
    """Base of necks: validates and keeps ``in_channels``/``in_strides``; a subclass sets ``out_channels``
    and ``strides`` in ``__init__`` and implements ``forward(features) -> tuple[Tensor, ...]``.

    Examples:
        >>> class Coarsest(Neck):
        ...     def __init__(self, in_channels, in_strides):
        ...         super().__init__(in_channels, in_strides)
        ...         self.out_channels, self.strides = self.in_channels[-1:], self.in_strides[-1:]
        ...     def forward(self, features):
        ...         return tuple(features[-1:])
        >>> neck = Coarsest((8, 16), (4, 8))
        >>> neck.out_channels, neck.strides, len(neck((torch.zeros(1, 8, 4, 4), torch.zeros(1, 16, 2, 2))))
        ((16,), (8,), 1)
    """

    out_channels: tuple[int, ...]
    strides: tuple[int, ...]

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int]) -> None:
        super().__init__()
        if len(in_channels) != len(in_strides) or not in_channels:
            raise ValueError(f"{type(self).__name__}: in_channels {tuple(in_channels)} and in_strides "
                             f"{tuple(in_strides)} must be non-empty and of equal length")
        self.in_channels = tuple(int(c) for c in in_channels)
        self.in_strides = tuple(int(s) for s in in_strides)

    @abc.abstractmethod
    def forward(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """New feature maps, one per declared stride, from the backbone's."""


def build_neck(cfg: dict[str, Any], in_channels: Sequence[int], in_strides: Sequence[int]) -> nn.Module:
    """Build the neck ``cfg`` (``type``, a NECKS name, plus keyword arguments) for features of the given
    channels and strides; an unknown ``type`` raises the registry's error (known names, closest match).

    Examples:
        >>> build_neck({"type": "fpn", "channels": 8}, (16, 32), (8, 16)).out_channels
        (16,)
        >>> build_neck({"type": "fnp"}, (8,), (4,))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        hipbench.registry.loader.UnknownPluginError: Unknown necks 'fnp'. Did you mean 'fpn'? ...
    """
    from hipbench.registry import NECKS

    reserved = set(RESERVED) & set(cfg)
    if reserved:
        raise ValueError(f"neck config sets {sorted(reserved)}, which build_neck fills in itself")
    neck = NECKS.build({**cfg, "in_channels": tuple(in_channels), "in_strides": tuple(in_strides)})
    channels, strides = getattr(neck, "out_channels", None), getattr(neck, "strides", None)
    if not channels or not strides or len(channels) != len(strides):
        raise TypeError(f"neck {cfg.get('type')!r} built a {type(neck).__name__}, which declares no matching "
                        "out_channels/strides (see hipbench.models.neck.Neck)")
    return neck
