"""Named backbone presets: timm models with their metadata (parameters, channels, strides) beside them.

This module imports neither torch nor timm, so ``hipbench list backbones`` can read the metadata
without building anything; ``tests/test_models_backbones.py`` builds every preset and checks it.
Parameter counts are those of the ``features_only`` backbone at its default levels (no classifier).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from hipbench_plugins.backbones.timm_adapter import TimmBackbone


@dataclass(frozen=True)
class Preset:
    """A timm model name, the extra ``timm.create_model`` arguments, and the resulting backbone's metadata.

    Example:
        >>> PRESETS["resnet18"].strides
        (2, 4, 8, 16, 32)
        >>> PRESETS["resnet18"].params_label
        '11.2M'
    """

    name: str
    model_name: str
    params: int
    channels: tuple[int, ...]
    strides: tuple[int, ...]
    timm_kwargs: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    @property
    def params_label(self) -> str:
        """Parameters in millions, one decimal (``'11.2M'``)."""
        return f"{self.params / 1e6:.1f}M"


# HRNet presets return the raw multi-resolution branches (feature_location=""), the features pose
# models use; timm's default for HRNet adds the classification "incre" widening blocks instead.
_HRNET = {"feature_location": ""}

PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("resnet18", "resnet18", 11_176_512, (64, 64, 128, 256, 512), (2, 4, 8, 16, 32)),
    Preset("resnet50", "resnet50", 23_508_032, (64, 256, 512, 1024, 2048), (2, 4, 8, 16, 32)),
    Preset("convnext_atto", "convnext_atto", 3_373_880, (40, 80, 160, 320), (4, 8, 16, 32)),
    Preset("convnext_tiny", "convnext_tiny", 27_818_592, (96, 192, 384, 768), (4, 8, 16, 32)),
    Preset("convnext_small", "convnext_small", 49_453_152, (96, 192, 384, 768), (4, 8, 16, 32)),
    Preset("hrnet_w18_small", "hrnet_w18_small", 1_477_920, (64, 16, 32, 64, 128), (2, 4, 8, 16, 32), _HRNET,
           "raw HRNet branches"),
    Preset("hrnet_w32", "hrnet_w32", 29_305_536, (64, 32, 64, 128, 256), (2, 4, 8, 16, 32), _HRNET,
           "raw HRNet branches"),
    Preset("hrnet_w48", "hrnet_w48", 65_325_120, (64, 48, 96, 192, 384), (2, 4, 8, 16, 32), _HRNET,
           "raw HRNet branches"),
    Preset("efficientnet_b0", "efficientnet_b0", 3_595_388, (16, 24, 40, 112, 320), (2, 4, 8, 16, 32)),
    Preset("efficientnet_b3", "efficientnet_b3", 10_103_336, (24, 32, 48, 136, 384), (2, 4, 8, 16, 32)),
    Preset("inception_next_tiny", "inception_next_tiny", 23_974_296, (96, 192, 384, 768), (4, 8, 16, 32)),
    Preset("mobilenetv3_large_100", "mobilenetv3_large_100", 2_971_952, (16, 24, 40, 112, 960),
           (2, 4, 8, 16, 32)),
]}


def build_preset(name: str, **kwargs: Any) -> "TimmBackbone":
    """Build preset ``name``; ``kwargs`` (``out_indices``, ``checkpoint``, timm arguments) override its defaults.

    Example:
        >>> build_preset("resnet18", out_indices=(4,)).strides
        (32,)
    """
    from hipbench_plugins.backbones.timm_adapter import TimmBackbone

    if name not in PRESETS:
        raise ValueError(f"unknown backbone preset {name!r}; presets: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    return TimmBackbone(preset.model_name, **{**preset.timm_kwargs, **kwargs})


def _factory(preset: Preset) -> Callable[..., "TimmBackbone"]:
    def build(**kwargs: Any) -> "TimmBackbone":
        return build_preset(preset.name, **kwargs)

    build.__name__ = build.__qualname__ = preset.name
    build.__doc__ = (f"timm ``{preset.model_name}`` backbone: {preset.params_label} parameters, strides "
                     f"{preset.strides}. Keyword arguments as for :func:`build_preset`.\n\n"
                     f"Example:\n    >>> {preset.name}.preset.params\n    {preset.params}\n")
    build.preset = preset  # type: ignore[attr-defined]
    build.weights_identity = functools.partial(_weights_identity, preset.model_name)  # type: ignore[attr-defined]
    return build


def _weights_identity(model_name: str, **kwargs: Any) -> str:
    from hipbench_plugins.backbones.timm_adapter import TimmBackbone

    return TimmBackbone.weights_identity(model_name, **kwargs)


resnet18 = _factory(PRESETS["resnet18"])
resnet50 = _factory(PRESETS["resnet50"])
convnext_atto = _factory(PRESETS["convnext_atto"])
convnext_tiny = _factory(PRESETS["convnext_tiny"])
convnext_small = _factory(PRESETS["convnext_small"])
hrnet_w18_small = _factory(PRESETS["hrnet_w18_small"])
hrnet_w32 = _factory(PRESETS["hrnet_w32"])
hrnet_w48 = _factory(PRESETS["hrnet_w48"])
efficientnet_b0 = _factory(PRESETS["efficientnet_b0"])
efficientnet_b3 = _factory(PRESETS["efficientnet_b3"])
inception_next_tiny = _factory(PRESETS["inception_next_tiny"])
mobilenetv3_large_100 = _factory(PRESETS["mobilenetv3_large_100"])
