"""Model contracts (:class:`Backbone`, :class:`Neck`, :class:`Codec`; heads in ``keypoint_model``) and the model
zoo's front door.

``list_models(kind)`` names what a registry holds without importing plugins; ``get_model(name,
kind=..., **kwargs)`` builds one. Keypoint models are assembled by
:func:`hipbench.models.keypoint_model.build_model`.
"""

from __future__ import annotations

from typing import Any

from hipbench.models.backbone import Backbone
from hipbench.models.codec import Codec
from hipbench.models.neck import Neck

MODEL_KINDS = ("backbones", "necks", "heads", "losses", "codecs")


def _registry(kind: str) -> Any:
    from hipbench.registry import ALL_REGISTRIES

    if kind not in MODEL_KINDS:
        raise ValueError(f"unknown model kind {kind!r}; kinds: {', '.join(MODEL_KINDS)}")
    return ALL_REGISTRIES[kind]


def list_models(kind: str = "backbones") -> list[str]:
    """Registered names of ``kind`` (backbones, necks, heads, losses or codecs), sorted; nothing is imported.

    Examples:
        >>> {"resnet18", "hrnet_w32", "timm"} <= set(list_models())
        True
        >>> "simcc_2d" in list_models("heads")
        True
    """
    return _registry(kind).names()


def get_model(name: str, kind: str = "backbones", **kwargs: Any) -> Any:
    """Build registered ``name`` of ``kind`` with ``kwargs`` (heads and codecs need their own arguments).

    Examples:
        >>> get_model("resnet18", out_indices=(3, 4)).strides
        (16, 32)
        >>> type(get_model("l1", kind="losses")).__name__
        'L1Loss'
    """
    return _registry(kind).build({"type": name, **kwargs})


__all__ = ["MODEL_KINDS", "Backbone", "Codec", "Neck", "get_model", "list_models"]
