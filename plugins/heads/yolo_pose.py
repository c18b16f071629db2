"""``yolo_pose``: Ultralytics' YOLO Pose head (one class, K keypoints) on the levels at strides 8, 16, 32.

The single-stage family: with the ``yolo11_pose`` backbone (or any backbone with those strides) on the
``whole_image`` framing it is YOLO11-pose, one instance per image.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from hipbench.models.keypoint_model import KeypointHead

Outputs = dict[str, Any]


def grid_anchors(feats: Sequence[torch.Tensor], strides: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchor centres (A, 2) in grid units (cell centres: index + 0.5) and each anchor's stride (A,), float32,
    level by level in row-major order (Ultralytics' ``make_anchors`` order, computed in float32 whatever the
    maps' dtype).

    Examples:
        >>> anchors, strides = grid_anchors([torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 1, 1)], (8, 16))
        >>> anchors.tolist(), strides.tolist()
        ([[0.5, 0.5], [1.5, 0.5], [0.5, 1.5], [1.5, 1.5], [0.5, 0.5]], [8.0, 8.0, 8.0, 8.0, 16.0])
    """
    centres, steps = [], []
    for feat, stride in zip(feats, strides):
        h, w = feat.shape[-2:]
        ys = torch.arange(h, dtype=torch.float32, device=feat.device) + 0.5
        xs = torch.arange(w, dtype=torch.float32, device=feat.device) + 0.5
        gy, gx = torch.meshgrid(ys, xs, indexing="ij")
        centres.append(torch.stack((gx, gy), -1).reshape(-1, 2))
        steps.append(torch.full_like(centres[-1][:, 0], float(stride)))
    return torch.cat(centres), torch.cat(steps)


class YoloPoseHead(KeypointHead):
    """Ultralytics ``Pose(nc=1, kpt_shape=(K, 3))`` on the feature levels at ``strides`` (8, 16, 32).

    ``forward`` returns the head's raw dict (``pose.forward_head``: ``boxes`` (B, 4 * reg_max, A) DFL logits,
    ``scores`` (B, 1, A) logits, ``kpts`` (B, K * 3, A) raw keypoints, ``feats`` the three input maps) in train
    and eval mode alike, so training, validation and export see one form. :meth:`decode` takes the
    keypoints of the best-scoring anchor, ``x = (2 * raw + anchor - 0.5) * stride`` in Ultralytics' pixel frame
    (pixel edges at integers), which the ``yolo_instance`` codec maps to hipbench's (pixel centres at integers).

    Design: no Ultralytics trainer is used. The model trains with hipbench's own ``Trainer``, so a YOLO-pose row
    gets the same epochs, optimiser, augmentation and validation-NME model selection as every other row; only
    the assignment and the loss are Ultralytics' (the ``yolo_pose`` loss wraps ``v8PoseLoss``). The trainer's
    left-right flip of whole-image views reorders keypoints with the schema's flip permutation
    (``ViewSet.flip_perm``: ``keypoints[:, flip_perm]``), which is what Ultralytics calls ``flip_idx``
    (``RandomFlip``: ``keypoints[:, flip_idx]``), so nothing needs configuring here.

    Examples:
        >>> head = YoloPoseHead(in_channels=(16, 32, 64), in_strides=(8, 16, 32), num_keypoints=3, input_size=64)
        >>> out = head([torch.zeros(2, 16, 8, 8), torch.zeros(2, 32, 4, 4), torch.zeros(2, 64, 2, 2)])
        >>> sorted(out), tuple(out["kpts"].shape), tuple(head.decode(out).shape)
        (['boxes', 'feats', 'kpts', 'scores'], (2, 9, 84), (2, 3, 2))
    """

    output_kind = "yolo_pose"
    compatible_losses = ("yolo_pose",)
    default_loss = "yolo_pose"
    default_codec = {"type": "yolo_instance"}

    def __init__(self, in_channels: Sequence[int], in_strides: Sequence[int], num_keypoints: int, input_size: int,
                 strides: Sequence[int] = (8, 16, 32), codec: Mapping[str, Any] | None = None) -> None:
        super().__init__(in_channels, in_strides, num_keypoints, input_size, codec)
        from hipbench.offline import import_ultralytics

        absent = [s for s in strides if int(s) not in self.in_strides]
        if absent or not strides:
            raise ValueError(f"yolo_pose: the head reads feature levels at strides {tuple(strides)}, but the "
                             f"backbone (or neck) gives strides {self.in_strides}; missing {tuple(absent)}. Use a "
                             "backbone with those levels (e.g. yolo11n_pose, or a timm model's out_indices)")
        self.strides = tuple(int(s) for s in strides)
        self.levels = tuple(self.in_strides.index(s) for s in self.strides)
        import_ultralytics()
        from ultralytics.nn.modules.head import Pose

        self.pose = Pose(nc=1, kpt_shape=(self.num_keypoints, 3), ch=tuple(self.in_channels[i] for i in self.levels))
        self.pose.stride = torch.tensor(self.strides, dtype=torch.float32)  # read by bias_init (and the loss)
        self.pose.bias_init()

    def forward(self, features: Sequence[torch.Tensor]) -> Outputs:
        picked = [features[i] for i in self.levels]
        return self.pose.forward_head(picked, **self.pose.one2many)

    def loss(self, outputs: Outputs, targets: Any, visible: torch.Tensor, loss_fn: nn.Module) -> torch.Tensor:
        """``loss_fn`` on float32 outputs (bf16 autocast makes anchors and the assignment inexact) plus ``stride``,
        the levels' strides the loss needs."""
        preds = {"boxes": outputs["boxes"].float(), "scores": outputs["scores"].float(),
                 "kpts": outputs["kpts"].float(), "feats": [f.float() for f in outputs["feats"]],
                 "stride": self.strides}
        return loss_fn(preds, targets, visible)

    def decode(self, outputs: Outputs) -> torch.Tensor:
        """Keypoints (B, K, 2) in input pixels: those of the anchor with the highest score, in float32."""
        kpts, scores = outputs["kpts"].float(), outputs["scores"].float()
        batch = kpts.shape[0]
        anchors, strides = grid_anchors(outputs["feats"], self.strides)
        best = scores.amax(1).argmax(1)  # (B,)
        raw = kpts.view(batch, self.num_keypoints, 3, -1)[:, :, :2]
        chosen = raw.gather(3, best.view(batch, 1, 1, 1).expand(batch, self.num_keypoints, 2, 1)).squeeze(3)
        centre = anchors.index_select(0, best).unsqueeze(1)  # (B, 1, 2)
        stride = strides.index_select(0, best).view(batch, 1, 1)
        return self.codec.decode((chosen * 2.0 + centre - 0.5) * stride)

    def uncertainty(self, outputs: Outputs) -> torch.Tensor | None:
        """None: a YOLO keypoint is a point estimate (its visibility logit is not a spread in pixels)."""
        return None
