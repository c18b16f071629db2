"""``yolo11_pose``: Ultralytics YOLO11-pose without its Pose head, as a hipbench backbone.

Every layer of ``yolo11{scale}-pose.yaml`` but the last (the backbone and the PAN neck) runs with
Ultralytics' own routing (each layer's ``f`` and the model's ``save`` list); ``forward`` returns the three
maps the Pose head reads, at strides 8, 16 and 32. Ultralytics is used as a library (AGPL): the layers are
Ultralytics' modules, built from its YAML.

Starting weights: ``pretrained: true`` loads ``yolo11{scale}-pose.pt`` (COCO-pose), fetched once through
Ultralytics' asset download into its weights directory (see :func:`hipbench_plugins.detectors.yolo.resolve_weights`;
under ``HIPBENCH_OFFLINE=1`` a cache miss raises :class:`~hipbench.offline.DownloadForbidden` naming the file and
the place). Backbone and neck weights are matched by name and shape; the checkpoint's head is skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from hipbench.models.backbone import Backbone
from hipbench.models.weights import SCRATCH, WeightsRecord, file_sha256

SCALES = ("n", "s", "m", "l", "x")
BATCHNORM_MOMENTUM = 0.1


def asset_name(scale: str) -> str:
    """The Ultralytics asset of the pretrained YOLO11-pose weights of ``scale``.

    Examples:
        >>> asset_name("s")
        'yolo11s-pose.pt'
    """
    return f"yolo11{scale}-pose.pt"


def _check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ValueError(f"yolo11_pose: scale must be one of {', '.join(SCALES)}, got {scale!r}")
    return scale


def read_ultralytics_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The float32 state dict of an Ultralytics checkpoint (``{"model": module, "ema": module, ...}``), read with
    Ultralytics' own loader (the file is a pickle of its modules, so it must come from a trusted source)."""
    from ultralytics.nn.tasks import torch_safe_load

    checkpoint, _ = torch_safe_load(str(path))
    module = checkpoint.get("ema") if isinstance(checkpoint, dict) else None
    if module is None and isinstance(checkpoint, dict):
        module = checkpoint.get("model")
    if not isinstance(module, torch.nn.Module):
        raise ValueError(f"{path} is not an Ultralytics checkpoint (no 'model' or 'ema' module)")
    return {k: v.float() if v.is_floating_point() else v for k, v in module.state_dict().items()}


class YoloPoseBackbone(Backbone):
    """YOLO11-pose of ``scale`` (n, s, m, l, x) up to its Pose head; features at strides 8, 16, 32. Input sides
    must be multiples of 32 (the neck concatenates upsampled coarse maps with finer ones).

    hipbench feeds ImageNet-normalised 3-channel views (:func:`hipbench.training.augment.to_model_input`); the
    backbone maps them back to the [0, 1] RGB range Ultralytics' networks are trained on, so pretrained
    weights see what they were trained on (a fixed affine; scratch training is unaffected). ``self.weights``
    records the starting weights; ``self.loaded`` counts the tensors loaded and the checkpoint's head tensors
    skipped.

    Examples:
        >>> net = YoloPoseBackbone("n")
        >>> net.out_channels, net.strides, net.weights.label
        ((64, 128, 256), (8, 16, 32), 'scratch')
        >>> [tuple(f.shape) for f in net(torch.zeros(1, 3, 64, 64))]
        [(1, 64, 8, 8), (1, 128, 4, 4), (1, 256, 2, 2)]
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, scale: str = "n", pretrained: bool = False) -> None:
        from hipbench.offline import import_ultralytics
        from hipbench.training.augment import IMAGENET_MEAN, IMAGENET_STD

        scale = _check_scale(str(scale))
        if not isinstance(pretrained, bool):
            raise ValueError(f"yolo11_pose: pretrained must be true or false (the weights are {asset_name(scale)}), "
                             f"got {pretrained!r}")
        import_ultralytics()
        from ultralytics.nn.tasks import PoseModel

        # the head is built with one keypoint and dropped: only its input layers and strides are read
        full = PoseModel(f"yolo11{scale}-pose.yaml", ch=3, nc=1, data_kpt_shape=[1, 3], verbose=False)
        head = full.model[-1]
        super().__init__(out_channels=tuple(int(branch[0].conv.in_channels) for branch in head.cv2),
                         strides=tuple(int(s) for s in head.stride.tolist()))
        self.scale = scale
        # attribute `model` keeps Ultralytics' parameter names ("model.<layer>....") for checkpoint loading
        self.model = full.model[:-1]
        # Ultralytics sets BatchNorm momentum 0.03 for its 100s of epochs; over a benchmark's few hundred steps the
        # running statistics then lag the weights so far that eval-mode scores collapse (measured: every anchor
        # scored 0.003 after 20 demo epochs, while batch statistics found the pelvis). PyTorch's 0.1 tracks them.
        for module in self.model.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.momentum = BATCHNORM_MOMENTUM
        self.save = tuple(sorted(int(i) for i in full.save))
        self.head_inputs = tuple(int(i) for i in head.f)
        self.head_index = int(head.i)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.loaded: dict[str, int] = {}
        if pretrained:
            self._load_pretrained()

    def _load_pretrained(self) -> None:
        from hipbench_plugins.detectors.yolo import resolve_weights

        name = asset_name(self.scale)
        path = resolve_weights(name)
        state = read_ultralytics_state(path)
        own = self.state_dict()
        head_prefix = f"model.{self.head_index}."
        missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
        mismatched = [f"{k} (checkpoint {tuple(state[k].shape)} vs model {tuple(own[k].shape)})"
                      for k in own if k in state and state[k].shape != own[k].shape]
        if missing or mismatched:
            problems = [f"{len(missing)} keys missing (e.g. {', '.join(missing[:3])})"] if missing else []
            if mismatched:
                problems.append(f"{len(mismatched)} shape mismatches (e.g. {', '.join(mismatched[:2])})")
            raise ValueError(f"checkpoint {path} does not fit yolo11_pose scale {self.scale!r}: "
                             + "; ".join(problems) + f". Is it {name}?")
        self.load_state_dict({k: state[k] for k in own if k in state}, strict=False)
        self.loaded = {"loaded": sum(k in state for k in own),
                       "skipped_head": sum(k.startswith(head_prefix) for k in state)}
        self.weights = WeightsRecord(f"ultralytics/{name}", str(path), file_sha256(path))

    @staticmethod
    def weights_identity(scale: str = "n", pretrained: bool = False, **_: Any) -> str:
        """What these arguments start from, without downloading: ``scratch`` or the Ultralytics asset.

        Examples:
            >>> YoloPoseBackbone.weights_identity("s", pretrained=True)
            'ultralytics/yolo11s-pose.pt'
        """
        return f"ultralytics/{asset_name(_check_scale(str(scale)))}" if pretrained else SCRATCH

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        step = self.strides[-1]
        if not torch.jit.is_tracing() and (images.shape[-1] % step or images.shape[-2] % step):
            # the neck concatenates upsampled coarse maps with finer ones: other sides fail deep inside
            raise ValueError(f"yolo11_pose needs an input side that is a multiple of {step}, got "
                             f"{tuple(images.shape[-2:])}; set the framing's input_size (or train.input_size) "
                             f"to e.g. {max(step, images.shape[-1] // step * step)}")
        x: Any = images * self.std + self.mean
        outputs: list[torch.Tensor | None] = []
        for layer in self.model:
            if layer.f != -1:  # Ultralytics' routing, as in BaseModel._predict_once
                x = outputs[layer.f] if isinstance(layer.f, int) else [x if j == -1 else outputs[j] for j in layer.f]
            x = layer(x)
            outputs.append(x if layer.i in self.save else None)
        return tuple(outputs[j] for j in self.head_inputs)  # type: ignore[misc]
