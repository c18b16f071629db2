"""``yolo_pose``: Ultralytics' YOLO pose loss (``v8PoseLoss``: task-aligned assignment, box IoU + DFL, class
BCE, OKS keypoint loss, keypoint visibility BCE) on the ``yolo_pose`` head's outputs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar, Sequence

import torch
from torch import nn


class YoloPoseLoss(nn.Module):
    """``v8PoseLoss`` with one instance per image, as a per-image mean.

    ``forward(outputs, targets, visible)``: ``outputs`` the ``yolo_pose`` head's raw dict in float32 plus
    ``stride`` (its levels' strides; :meth:`YoloPoseHead.loss` adds it), ``targets`` the ``yolo_instance``
    codec's dict (keypoints and xywh boxes in Ultralytics' pixel frame), ``visible`` (B, K). Images without a
    visible keypoint hold no instance (they still teach the classifier that nothing is there). The gains
    ``box``, ``cls``, ``dfl``, ``pose`` and ``kobj`` default to Ultralytics'. ``sigmas`` are the OKS keypoint
    scales; default 1/K each, Ultralytics' choice for keypoints other than COCO's 17 (set them explicitly:
    Ultralytics would otherwise take COCO's sigmas for any 17-keypoint schema). The Ultralytics criterion is
    built on first use and cached per device, keypoint count and strides.

    Examples:
        >>> from hipbench_plugins.heads.yolo_pose import YoloPoseHead
        >>> head = YoloPoseHead(in_channels=(8, 8, 8), in_strides=(8, 16, 32), num_keypoints=2, input_size=64)
        >>> out = head([torch.rand(2, 8, 8, 8), torch.rand(2, 8, 4, 4), torch.rand(2, 8, 2, 2)])
        >>> points, visible = torch.tensor([[[20.0, 30.0], [40.0, 35.0]]] * 2), torch.ones(2, 2)
        >>> loss = head.loss(out, head.codec.encode(points, visible), visible, YoloPoseLoss())
        >>> loss.ndim, bool(loss > 0)
        (0, True)
    """

    output_kinds: ClassVar[tuple[str, ...]] = ("yolo_pose",)

    def __init__(self, box: float = 7.5, cls: float = 0.5, dfl: float = 1.5, pose: float = 12.0, kobj: float = 1.0,
                 sigmas: Sequence[float] | None = None) -> None:
        super().__init__()
        self.gains = {"box": float(box), "cls": float(cls), "dfl": float(dfl), "pose": float(pose),
                      "kobj": float(kobj)}
        self.sigmas = None if sigmas is None else [float(s) for s in sigmas]
        if self.sigmas is not None and not all(s > 0 for s in self.sigmas):
            raise ValueError(f"yolo_pose loss: sigmas must be positive, got {self.sigmas}")
        self._criteria: dict[tuple[Any, ...], Any] = {}

    def criterion(self, device: torch.device, num_keypoints: int, strides: Sequence[int], reg_max: int,
                  nc: int) -> Any:
        """The cached Ultralytics ``v8PoseLoss`` for these outputs, built from a minimal model-like object."""
        key = (str(device), num_keypoints, tuple(strides), reg_max, nc)
        if key not in self._criteria:
            from hipbench.offline import import_ultralytics

            import_ultralytics()
            from ultralytics.utils.loss import v8PoseLoss

            sigmas = self.sigmas if self.sigmas is not None else [1.0 / num_keypoints] * num_keypoints
            if len(sigmas) != num_keypoints:
                raise ValueError(f"yolo_pose loss: {len(sigmas)} sigmas for {num_keypoints} keypoints")
            # on the outputs' device, as Ultralytics' model.to() puts a head's strides
            head = SimpleNamespace(stride=torch.tensor([float(s) for s in strides], device=device), nc=nc,
                                   reg_max=reg_max, kpt_shape=[num_keypoints, 3])
            anchor = torch.zeros(1, device=device)  # v8PoseLoss reads its device from the model's parameters
            model = SimpleNamespace(args=SimpleNamespace(**self.gains), model=[head],
                                    parameters=lambda: iter([anchor]), kpt_oks_sigmas=sigmas)
            self._criteria[key] = v8PoseLoss(model)
        return self._criteria[key]

    def forward(self, outputs: dict[str, Any], targets: dict[str, torch.Tensor], visible: torch.Tensor
                ) -> torch.Tensor:
        if "stride" not in outputs:
            raise ValueError("yolo_pose loss: outputs need 'stride' (the head's levels' strides); train it through "
                             "the yolo_pose head's loss()")
        kpts = outputs["kpts"]
        batch, device = kpts.shape[0], kpts.device
        num_keypoints = int(visible.shape[1])
        criterion = self.criterion(device, num_keypoints, outputs["stride"], outputs["boxes"].shape[1] // 4,
                                   outputs["scores"].shape[1])
        feats = outputs["feats"]
        # normalise by the size Ultralytics scales back with (the stride-8 grid, which may round the input up)
        height, width = (int(n) * int(outputs["stride"][0]) for n in feats[0].shape[-2:])
        scale = torch.tensor([width, height], dtype=torch.float32, device=device)
        shown = visible.to(device).float() > 0
        index = torch.nonzero(shown.any(1)).flatten()
        points = targets["keypoints"].to(device).float()[index] / scale
        flags = shown[index].float().unsqueeze(-1)
        ultra_batch = {"batch_idx": index.float(), "cls": torch.zeros(len(index), 1, device=device),
                       "bboxes": targets["boxes"].to(device).float()[index] / scale.repeat(2),
                       "keypoints": torch.cat([points * flags, flags], -1)}
        preds = {"boxes": outputs["boxes"], "scores": outputs["scores"], "kpts": kpts, "feats": list(feats)}
        with torch.autocast(device_type=device.type, enabled=False):
            total, _ = criterion(preds, ultra_batch)
        return total.sum() / batch  # v8PoseLoss returns its terms times the batch size
