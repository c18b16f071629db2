"""Named backbone presets: timm models and Ultralytics YOLO11-pose bodies, with their metadata (parameters,
channels, strides) beside them.

This module imports neither torch nor timm nor ultralytics, so ``hipbench list backbones`` can read the
metadata without building anything; ``tests/test_models_backbones.py`` builds every preset and checks it.
Parameter counts are those of the backbone as built: a timm ``features_only`` model at its default levels (no
classifier), a YOLO11-pose network without its Pose head.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from hipbench.models.backbone import Backbone


@dataclass(frozen=True)
class Preset:
    """A model of a ``family`` (``timm``: a timm model name; ``ultralytics``: an Ultralytics model YAML stem),
    the extra arguments of its builder (``timm.create_model``, or :class:`~.yolo.YoloPoseBackbone`), and the
    resulting backbone's metadata.

    Examples:
        >>> PRESETS["resnet18"].strides
        (2, 4, 8, 16, 32)
        >>> PRESETS["resnet18"].params_label, PRESETS["yolo11n_pose"].family
        ('11.2M', 'ultralytics')
    """

    name: str
    model_name: str
    params: int
    channels: tuple[int, ...]
    strides: tuple[int, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    family: str = "timm"

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
    Preset("yolo11n_pose", "yolo11n-pose", 2_159_168, (64, 128, 256), (8, 16, 32), {"scale": "n"},
           "YOLO11n-pose backbone + neck", "ultralytics"),
    Preset("yolo11s_pose", "yolo11s-pose", 8_608_384, (128, 256, 512), (8, 16, 32), {"scale": "s"},
           "YOLO11s-pose backbone + neck", "ultralytics"),
]}


def build_preset(name: str, **kwargs: Any) -> "Backbone":
    """Build preset ``name``; ``kwargs`` (``out_indices``, ``checkpoint``, timm arguments; ``pretrained`` for a
    YOLO preset) override its defaults.

    Examples:
        >>> build_preset("resnet18", out_indices=(4,)).strides
        (32,)
        >>> build_preset("yolo11n_pose").strides
        (8, 16, 32)
    """
    if name not in PRESETS:
        raise ValueError(f"unknown backbone preset {name!r}; presets: {', '.join(PRESETS)}")
    preset = PRESETS[name]
    if preset.family == "ultralytics":
        from hipbench_plugins.backbones.yolo import YoloPoseBackbone

        return YoloPoseBackbone(**{**preset.kwargs, **kwargs})
    from hipbench_plugins.backbones.timm_adapter import TimmBackbone

    return TimmBackbone(preset.model_name, **{**preset.kwargs, **kwargs})


def _factory(preset: Preset) -> Callable[..., "Backbone"]:
    def build(**kwargs: Any) -> "Backbone":
        return build_preset(preset.name, **kwargs)

    build.__name__ = build.__qualname__ = preset.name
    what = f"timm ``{preset.model_name}``" if preset.family == "timm" else f"Ultralytics ``{preset.model_name}`` "\
        "(without its Pose head)"
    build.__doc__ = (f"{what} backbone: {preset.params_label} parameters, strides "
                     f"{preset.strides}. Keyword arguments as for :func:`build_preset`.\n\n"
                     f"Example:\n    >>> {preset.name}.preset.params\n    {preset.params}\n")
    build.preset = preset  # type: ignore[attr-defined]
    build.weights_identity = functools.partial(_weights_identity, preset.name)  # type: ignore[attr-defined]
    return build


def _weights_identity(name: str, **kwargs: Any) -> str:
    preset = PRESETS[name]
    if preset.family == "ultralytics":
        from hipbench_plugins.backbones.yolo import YoloPoseBackbone

        return YoloPoseBackbone.weights_identity(**{**preset.kwargs, **kwargs})
    from hipbench_plugins.backbones.timm_adapter import TimmBackbone

    return TimmBackbone.weights_identity(preset.model_name, **kwargs)


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
yolo11n_pose = _factory(PRESETS["yolo11n_pose"])
yolo11s_pose = _factory(PRESETS["yolo11s_pose"])
