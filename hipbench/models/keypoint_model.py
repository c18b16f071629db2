"""The uniform keypoint model: backbone -> optional neck -> head, with the head's codec and loss.

The trainer sees only :class:`KeypointModel`: ``forward(images)``, ``loss(outputs, keypoints,
visible, loss_fn)``, ``decode(outputs)`` and ``num_parameters()``; test-time passes also read
``uncertainty(outputs)``. Keypoints are (B, K, 2) pixels of the model input (pixel centres at
integers); NaN marks a missing point.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar, Mapping, Sequence

import torch
from torch import nn

from hipbench.models.backbone import Backbone
from hipbench.models.codec import check_keypoints

AUTO_LOSS = ("auto", "default")


class KeypointHead(nn.Module, abc.ABC):
    """Base of keypoint heads: consumes the backbone's feature tuple and owns a codec.

    Subclasses set the class attributes ``output_kind`` (``coordinates``, ``heatmap``, ``simcc``,
    ``mask``), ``compatible_losses``, ``default_loss`` and ``default_codec`` (a codec config whose
    ``type`` names a CODECS entry), and implement ``forward(features) -> outputs``. The ``codec``
    argument overrides the default codec's keyword arguments (or its ``type``). :meth:`loss`,
    :meth:`decode` and :meth:`uncertainty` apply ``loss_fn`` and the codec; heads whose raw output
    differs from the codec's form (logits) override them.

    Examples:
        >>> class MeanHead(KeypointHead):
        ...     output_kind, compatible_losses, default_loss = "coordinates", ("l1",), "l1"
        ...     default_codec = {"type": "regression"}
        ...     def __init__(self, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.fc = nn.Linear(self.in_channels[-1], self.num_keypoints * 2)
        ...     def forward(self, features):
        ...         return self.fc(features[-1].mean((2, 3))).view(-1, self.num_keypoints, 2)
        >>> head = MeanHead(in_channels=(8,), in_strides=(4,), num_keypoints=3, input_size=32)
        >>> type(head.codec).__name__, tuple(head([torch.zeros(2, 8, 8, 8)]).shape)
        ('RegressionCodec', (2, 3, 2))
    """

    output_kind: ClassVar[str] = ""
    # non-empty: why the head cannot learn from views that are not centred on their structure (whole images);
    # such framings refuse it before training (hipbench.pipeline.framing.head_framing_problem)
    needs_centred_view: ClassVar[str] = ""
    compatible_losses: ClassVar[tuple[str, ...]] = ()
    default_loss: ClassVar[str] = ""
    default_codec: ClassVar[Mapping[str, Any]] = {}

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], num_keypoints: int, input_size: int,
                 codec: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        from hipbench.registry import CODECS

        if len(in_channels) != len(in_strides) or not in_channels:
            raise ValueError(f"{type(self).__name__}: in_channels {tuple(in_channels)} and in_strides "
                             f"{tuple(in_strides)} must be non-empty and of equal length")
        if int(num_keypoints) < 1 or int(input_size) < 8:
            raise ValueError(f"{type(self).__name__}: need num_keypoints >= 1 and input_size >= 8, got "
                             f"{num_keypoints} and {input_size}")
        self.in_channels = tuple(int(c) for c in in_channels)
        self.in_strides = tuple(int(s) for s in in_strides)
        self.num_keypoints = int(num_keypoints)
        self.input_size = int(input_size)
        codec_cfg = {**self.default_codec, **(codec or {}), "input_size": self.input_size}
        self.codec = CODECS.build(codec_cfg)

    def level(self, in_index: int) -> tuple[int, int]:
        """``(channels, stride)`` of feature level ``in_index`` (negative counts from the coarsest).

        Examples:
            >>> class Probe(KeypointHead):
            ...     default_codec = {"type": "regression"}
            ...     def forward(self, features): return features[-1]
            >>> Probe((8, 16), (4, 8), 2, 32).level(-1)
            (16, 8)
        """
        if not -len(self.in_channels) <= in_index < len(self.in_channels):
            raise ValueError(f"{type(self).__name__}: in_index {in_index} is out of range for "
                             f"{len(self.in_channels)} feature levels (strides {self.in_strides})")
        return self.in_channels[in_index], self.in_strides[in_index]

    @abc.abstractmethod
    def forward(self, features: Sequence[torch.Tensor]) -> Any:
        """Raw outputs (what the loss consumes) from the backbone's (or neck's) feature maps."""

    def loss(self, outputs: Any, targets: Any, visible: torch.Tensor, loss_fn: nn.Module) -> torch.Tensor:
        """``loss_fn(outputs, targets, visible)`` in float32 (outputs may come from autocast)."""
        return loss_fn(outputs.float(), targets, visible)

    def decode(self, outputs: Any) -> torch.Tensor:
        """Keypoints (B, K, 2) in input pixels."""
        return self.codec.decode(outputs)

    def uncertainty(self, outputs: Any) -> torch.Tensor | None:
        """Per-keypoint radial standard deviation (B, K) in input pixels from the codec, or None.

        A head that overrides :meth:`decode` (to activate logits first) must override this the same way;
        until it does, it answers None rather than reading the codec's spread off raw logits.
        """
        hook = getattr(self.codec, "uncertainty", None)
        if hook is None or type(self).decode is not KeypointHead.decode:
            return None
        return hook(outputs)

    def peak(self, outputs: Any) -> torch.Tensor | None:
        """Per-keypoint map height (B, K) from the codec (:meth:`hipbench.models.codec.Codec.peak`), or None;
        a head that overrides :meth:`decode` must override this the same way (until then: None)."""
        hook = getattr(self.codec, "peak", None)
        if hook is None or type(self).decode is not KeypointHead.decode:
            return None
        return hook(outputs)


class KeypointModel(nn.Module):
    """Backbone, optional neck and head as one ``nn.Module``; ``codec`` is the head's codec.

    Examples:
        >>> model = build_model({"type": "timm", "model_name": "test_resnet"}, {"type": "direct_regression"},
        ...                     num_keypoints=3, input_size=32)
        >>> outputs = model(torch.zeros(2, 3, 32, 32))
        >>> keypoints, visible = torch.full((2, 3, 2), 16.0), torch.ones(2, 3)
        >>> model.loss(outputs, keypoints, visible, model.build_default_loss()).ndim
        0
        >>> tuple(model.decode(outputs).shape), model.uncertainty(outputs)  # direct coordinates carry no spread
        ((2, 3, 2), None)
    """

    def __init__(self, backbone: nn.Module, head: KeypointHead, neck: nn.Module | None = None) -> None:
        super().__init__()
        self.backbone = backbone
        self.neck = neck
        self.head = head

    @property
    def codec(self) -> Any:
        """The head's codec."""
        return self.head.codec

    def forward(self, images: torch.Tensor) -> Any:
        features = self.backbone(images)
        if self.neck is not None:
            features = self.neck(features)
        return self.head(features)

    def loss(self, outputs: Any, keypoints: torch.Tensor, visible: torch.Tensor, loss_fn: nn.Module) -> torch.Tensor:
        """Encode targets with the codec (on the keypoints' device) and apply the head's loss.

        Keypoints that are NaN count as invisible.
        """
        points, vis = check_keypoints(keypoints, visible)
        targets = self.head.codec.encode(points, vis)
        return self.head.loss(outputs, targets, vis, loss_fn)

    def decode(self, outputs: Any) -> torch.Tensor:
        """Keypoints (B, K, 2) in input pixels."""
        return self.head.decode(outputs)

    def uncertainty(self, outputs: Any) -> torch.Tensor | None:
        """Per-keypoint radial standard deviation (B, K) in input pixels (the head's codec), or None when
        the codec cannot say; map it to full-image pixels through the view's scale."""
        hook = getattr(self.head, "uncertainty", None)
        return None if hook is None else hook(outputs)

    def peak(self, outputs: Any) -> torch.Tensor | None:
        """Per-keypoint map height (B, K) (the head's codec; 1 = a target's peak), or None for outputs that are
        not maps; what the trainer's collapse check reads."""
        hook = getattr(self.head, "peak", None)
        return None if hook is None else hook(outputs)

    def num_parameters(self) -> int:
        """Number of parameters (trainable or not)."""
        return sum(p.numel() for p in self.parameters())

    def set_progress(self, fraction: float) -> None:
        """Tell the codec how far training is (0..1), through :meth:`hipbench.models.codec.Codec.set_progress`
        (a codec that is not a ``Codec`` and lacks the hook is left alone)."""
        hook = getattr(self.head.codec, "set_progress", None)
        if hook is not None:
            hook(fraction)

    def build_default_loss(self) -> nn.Module:
        """The head's default loss, built from the LOSSES registry."""
        from hipbench.registry import LOSSES

        return LOSSES.build({"type": self.head.default_loss})


def build_model(backbone: dict, head: dict, num_keypoints: int, input_size: int, neck: dict | None = None
                ) -> KeypointModel:
    """Build backbone (BACKBONES), optional neck (NECKS, :func:`hipbench.models.neck.build_neck`) and head
    (HEADS).

    The head is built as ``HEADS.build({**head, "in_channels": ..., "in_strides": ...,
    "num_keypoints": num_keypoints, "input_size": input_size})`` with the channels and strides of
    the neck's output when there is a neck, else of the backbone's.

    Examples:
        >>> model = build_model({"type": "timm", "model_name": "test_resnet"}, {"type": "heatmap"},
        ...                     num_keypoints=4, input_size=64, neck={"type": "fpn", "channels": 8})
        >>> model.neck.strides, tuple(model.eval()(torch.zeros(1, 3, 64, 64)).shape)
        ((4,), (1, 4, 16, 16))
    """
    from hipbench.models.neck import build_neck
    from hipbench.registry import BACKBONES, HEADS

    net = BACKBONES.build(dict(backbone))
    if not isinstance(net, Backbone) and not (hasattr(net, "out_channels") and hasattr(net, "strides")):
        raise TypeError(f"backbone {backbone.get('type')!r} built a {type(net).__name__}, which declares no "
                        "out_channels/strides (see hipbench.models.Backbone)")
    channels, strides = tuple(net.out_channels), tuple(net.strides)
    neck_module = None
    if neck:
        neck_module = build_neck(neck, channels, strides)
        channels, strides = tuple(neck_module.out_channels), tuple(neck_module.strides)
    reserved = {"in_channels", "in_strides", "num_keypoints", "input_size"} & set(head)
    if reserved:
        raise ValueError(f"head config sets {sorted(reserved)}, which build_model fills in itself")
    head_module = HEADS.build({**head, "in_channels": channels, "in_strides": strides,
                               "num_keypoints": int(num_keypoints), "input_size": int(input_size)})
    if not hasattr(head_module, "codec"):
        raise TypeError(f"head {head.get('type')!r} built a {type(head_module).__name__} without a codec")
    return KeypointModel(net, head_module, neck_module)


def resolved_parts(head: Mapping[str, Any], loss: Mapping[str, Any] | None) -> tuple[dict, dict]:
    """The codec and loss configs a head entry trains with: its class's ``default_codec`` updated by the entry's
    ``codec``, and ``loss`` or, when None, the head's ``default_loss`` (a name or a config). Nothing is built.

    Examples:
        >>> resolved_parts({"type": "heatmap", "codec": {"sigma": 3.0}}, None)
        ({'type': 'gaussian_heatmap', 'sigma': 3.0}, {'type': 'heatmap_mse'})
    """
    from hipbench.registry import HEADS

    head_cls = HEADS.get(str(head["type"]))
    codec = {**getattr(head_cls, "default_codec", {}), **(head.get("codec") or {})}
    if loss is not None:
        return codec, dict(loss)
    default = getattr(head_cls, "default_loss", None)
    return codec, ({"type": default} if isinstance(default, str) else dict(default or {}))


def _loss_type(loss: dict | str | None) -> str | None:
    if loss is None:
        return None
    name = loss if isinstance(loss, str) else loss.get("type")
    return None if name in AUTO_LOSS else name


def check_head_loss(head: dict, loss: dict | str | None) -> None:
    """Raise ``ValueError`` (naming the compatible losses) when ``loss`` cannot train ``head``.

    Reads the head class's ``compatible_losses`` (nothing is built). A loss outside that list is
    still accepted when its class declares the head's ``output_kind`` in ``output_kinds`` (how a
    third-party loss opts in). ``None``, ``auto`` and ``default`` mean the head's default loss.

    Examples:
        >>> check_head_loss({"type": "heatmap"}, {"type": "heatmap_mse"})
        >>> check_head_loss({"type": "heatmap"}, {"type": "kl_discret"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: head 'heatmap' cannot train with loss 'kl_discret': its heatmap output fits heatmap_mse, ...
    """
    from hipbench.registry import HEADS, LOSSES

    head_type = head if isinstance(head, str) else head.get("type")
    head_cls = HEADS.get(head_type)
    name = _loss_type(loss)
    compatible = tuple(getattr(head_cls, "compatible_losses", ()))
    if name is None or name in compatible:
        return
    kind = getattr(head_cls, "output_kind", "")
    if kind and kind in tuple(getattr(LOSSES.get(name), "output_kinds", ())):
        return
    raise ValueError(f"head {head_type!r} cannot train with loss {name!r}: its {kind or 'output'} output fits "
                     f"{', '.join(compatible) or '(no declared losses)'}")
